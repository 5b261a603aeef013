import { registry } from "@web/core/registry";

/** L2: a logged email shows on the company's timeline and its associations can be edited there. */
registry.category("web_tour.tours").add("mail_tracking_ext_logging_associations", {
    steps: () => [
        {
            content: "the email written on the opportunity is on the company's timeline",
            trigger: ".o-mail-Message:contains(Logged offer)",
            run: "hover && click .o-mail-Message:contains(Logged offer) [title='Expand']",
        },
        {
            trigger: ".o-mail-Message-moreMenu [title='Associations'], .o-mail-Message-moreMenu [aria-label='Associations'], .o-mail-Message [title='Associations']",
            run: "click",
        },
        {
            trigger: ".modal .o_field_widget[name=partner_ids] .o_tag:contains(Carla Contact)",
        },
        {
            content: "remove the company itself",
            trigger: ".modal .o_field_widget[name=partner_ids] .o_tag:contains(Acme):not(:contains(Carla)) .o_delete",
            run: "click",
        },
        {
            trigger: ".modal button[name=action_apply]",
            run: "click",
        },
        {
            trigger: "body:not(:has(.modal))",
        },
        {
            content: "Reply opens the full composer, for the author of the email",
            trigger: ".o-mail-Message:contains(Logged offer)",
            run: "hover && click .o-mail-Message:contains(Logged offer) [title='Expand']",
        },
        {
            trigger: ".o-mail-Message-moreMenu [title='Reply'], .o-mail-Message-moreMenu [aria-label='Reply'], .o-mail-Message [title='Reply']",
            run: "click",
        },
        {
            trigger: ".modal .o_mail_composer_form_view [name=subject] input:value(Re:)",
        },
        {
            trigger: ".modal .o_form_button_cancel, .modal .btn-close",
            run: "click",
        },
        {
            trigger: "body:not(:has(.modal))",
        },
    ],
});
