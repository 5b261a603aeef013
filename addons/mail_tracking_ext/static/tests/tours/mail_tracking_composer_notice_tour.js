import { registry } from "@web/core/registry";

/** P1, P2: the chatter composer says who would get the email untracked, as recipients change. */
registry.category("web_tour.tours").add("mail_tracking_ext_composer_notice", {
    steps: () => [
        {
            trigger: ".o-mail-Chatter-topbar button:contains(Send message)",
            run: "click",
        },
        {
            content: "Anna, suggested and checked, has no legal basis for processing",
            trigger: ".o-mail-TrackingSwitches-notice:contains(Anna Customer)",
        },
        {
            // 18.0 unchecks a suggested recipient, 19.0 removes the recipient's tag
            trigger:
                ".o-mail-SuggestedRecipient:contains(Anna Customer) input[type=checkbox]:checked, " +
                ".o-mail-RecipientsInput .o_tag:contains(Anna Customer) .o_delete",
            run: "click",
        },
        {
            content: "without her, everybody is tracked",
            trigger: ".o-mail-Composer:has(.o-mail-TrackingSwitches):not(:has(.o-mail-TrackingSwitches-notice))",
        },
    ],
});
