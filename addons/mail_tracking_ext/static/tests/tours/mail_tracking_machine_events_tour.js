import { registry } from "@web/core/registry";

const EMAIL = ".o-mail-Message:contains(Our proposal)";

/**
 * A1: a machine's opens and clicks stay visible, greyed with their reason, and
 * count for nothing: the email fetched only by Apple's privacy proxy says its
 * open is unknown, the icons stay empty, and the feed lists the lines greyed.
 */
registry.category("web_tour.tours").add("mail_tracking_ext_machine_events", {
    steps: () => [
        {
            content: "only machines: the icons stay empty",
            trigger: `${EMAIL} .o-mail-TrackingStatus[data-state=sent] .o-mail-TrackingStatus-open:not(.o-engaged)`,
        },
        {
            trigger: `${EMAIL} .o-mail-TrackingStatus`,
            run: "hover",
        },
        {
            content: "Apple's proxy fetched the images: delivered, open unknown",
            trigger: ".o-mail-TrackingPopover-recipient:contains(Anna Customer):contains(Delivered to Apple Mail (open unknown))",
        },
        {
            content: "the proxy's open, greyed, with its reason",
            trigger: ".o-mail-TrackingPopover-open.o-mail-TrackingPopover-machine:contains(Apple Mail Privacy Protection):contains(Machine)",
        },
        {
            content: "the link preview's click, greyed, with its reason",
            trigger: ".o-mail-TrackingPopover-click.o-mail-TrackingPopover-machine:contains(Link preview)",
        },
        {
            content: "nothing new for the author: the feed has no unread line",
            trigger: ".o-mail-TrackingFeedSystray:not(:has(.o-mail-TrackingFeedSystray-counter))",
        },
        {
            trigger: ".o-mail-TrackingFeedSystray button",
            run: "click",
        },
        {
            content: "the feed lists the machine's lines, greyed, with why",
            trigger: ".o_list_view .o_data_row.text-muted:contains(Anna Customer):contains(Apple Mail Privacy Protection)",
        },
        {
            trigger: ".o_list_view .o_data_row.text-muted:contains(Anna Customer):contains(Link preview)",
        },
    ],
});
