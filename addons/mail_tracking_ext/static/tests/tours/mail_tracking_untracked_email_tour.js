import { registry } from "@web/core/registry";

const EMAIL = ".o-mail-Message:contains(Not for tracking)";
const TOUR_READY_CHANNEL = "mail_tracking_ext.test_untracked_email_tour";

/**
 * N4: an email whose recipients are all on the never-track list shows the grey icons
 * of a tracked email while it waits in the queue; once it leaves untracked, they go,
 * without reloading.
 */
registry.category("web_tour.tours").add("mail_tracking_ext_untracked_email", {
    steps: () => [
        {
            content: "queued: the author sees the email as tracked, waiting to leave",
            trigger: `${EMAIL} .o-mail-TrackingStatus[data-state=sent]`,
            run() {
                // the Python test sends the queue once it sees this channel
                odoo.__WOWL_DEBUG__.root.env.services.bus_service.addChannel(TOUR_READY_CHANNEL);
            },
        },
        {
            content: "it left untracked: no icons any more",
            trigger: `${EMAIL}:not(:has(.o-mail-TrackingStatus))`,
            timeout: 30000,
        },
    ],
});
