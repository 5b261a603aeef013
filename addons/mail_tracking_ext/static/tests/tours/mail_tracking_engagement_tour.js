import { registry } from "@web/core/registry";

const EMAIL = ".o-mail-Message:contains(Our proposal)";
const TOUR_READY_CHANNEL = "mail_tracking_ext.test_engagement_tour";

/**
 * N4, N1, N2: the tracked email's icons fill live when the recipient opens
 * it (the Python test loads her pixel, without the author's session), the
 * author is notified, and the activity feed is one click away.
 */
registry.category("web_tour.tours").add("mail_tracking_ext_engagement", {
    steps: () => [
        {
            content: "the tracked email shows its open and click icons, not engaged yet",
            trigger: `${EMAIL} .o-mail-TrackingStatus[data-state=sent] .o-mail-TrackingStatus-open:not(.o-engaged)`,
        },
        {
            trigger: `${EMAIL} .o-mail-TrackingStatus-click:not(.o-engaged)`,
        },
        {
            content: "hovering shows each recipient: sent",
            trigger: `${EMAIL} .o-mail-TrackingStatus`,
            run: "hover",
        },
        {
            content: "sent, not opened: the test may now open Anna's email",
            trigger: ".o-mail-TrackingPopover-recipient[data-state=sent]:contains(Anna Customer)",
            run() {
                // the Python test waits for this bus channel before loading Anna's pixel
                odoo.__WOWL_DEBUG__.root.env.services.bus_service.addChannel(TOUR_READY_CHANNEL);
            },
        },
        {
            content: "Anna opens the email: the icon fills without reloading",
            trigger: `${EMAIL} .o-mail-TrackingStatus[data-state=opened] .o-mail-TrackingStatus-open.o-engaged`,
            timeout: 30000,
        },
        {
            content: "the opportunity's open rate follows, without reloading (N5)",
            trigger: ".o_mail_tracking_opened .o_stat_value:contains(100)",
        },
        {
            content: "the author is notified",
            trigger: ".o_notification:contains(Anna Customer opened your email)",
        },
        {
            content: "the open popover follows: Anna opened, with the time",
            trigger: ".o-mail-TrackingPopover-recipient[data-state=opened]:contains(Anna Customer) .o-mail-TrackingPopover-open",
        },
        {
            content: "the activity feed counts it",
            trigger: ".o-mail-TrackingFeedSystray-counter:contains(1)",
        },
        {
            trigger: ".o-mail-TrackingFeedSystray button",
            run: "click",
        },
        {
            content: "the feed lists Anna's open, newest first",
            trigger: ".o_list_view .o_data_row:first:contains(Anna Customer):contains(Opened)",
        },
        {
            trigger: ".o_searchview .o_facet_value:contains(My Emails)",
        },
        {
            content: "the counter is read",
            trigger: ".o-mail-TrackingFeedSystray:not(:has(.o-mail-TrackingFeedSystray-counter))",
        },
    ],
});

/** N5: the contact's statistics open the tracked emails filtered "Opened" in one click. */
registry.category("web_tour.tours").add("mail_tracking_ext_contact_statistics", {
    steps: () => [
        {
            trigger: ".o_form_view .oe_stat_button:contains(Tracked Emails) .o_stat_value:contains(1)",
        },
        {
            content: "open rate",
            trigger: ".o_mail_tracking_opened .o_stat_value:contains(100)",
            run: "click",
        },
        {
            trigger: ".o_searchview .o_facet_value:contains(Opened)",
        },
        {
            content: "the list of Anna's opened emails",
            trigger: ".o_list_view .o_data_row:contains(Anna Customer):contains(Opened)",
        },
    ],
});
