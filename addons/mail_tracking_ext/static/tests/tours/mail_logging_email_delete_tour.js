import { registry } from "@web/core/registry";

/** L8: an email logged from a mailbox is deleted from a contact's timeline. */
registry.category("web_tour.tours").add("mail_tracking_ext_logged_email_delete", {
    steps: () => [
        {
            content: "the email logged from Gmail (its body is in a shadow root) is on the contact's timeline",
            trigger: ".o-mail-Message:contains(Subject: From Gmail)",
            run: "hover && click .o-mail-Message:contains(Subject: From Gmail) .o-mail-Message-actions [title='Expand']",
        },
        {
            trigger: ".o-mail-Message-moreMenu [title='Delete'], .o-mail-Message-moreMenu [aria-label='Delete']",
            run: "click",
        },
        {
            content: "confirm",
            trigger: ".modal .modal-footer .btn-primary",
            run: "click",
        },
        {
            content: "it is gone",
            trigger: ".o-mail-Chatter:not(:has(.o-mail-Message:contains(Subject: From Gmail)))",
        },
    ],
});
