import { registry } from "@web/core/registry";

/** L8: on a contact's timeline, a logged email expands to its conversation and is answered in the full composer. */
registry.category("web_tour.tours").add("mail_tracking_ext_logged_email_actions", {
    steps: () => [
        {
            content: "the email logged on the opportunity is on the contact's timeline",
            trigger: ".o-mail-Message:contains(Logged offer)",
            run: "hover && click .o-mail-Message:contains(Logged offer) .o-mail-Message-actions [title='Expand']",
        },
        {
            trigger: ".o-mail-Message-moreMenu [title='Show Conversation'], .o-mail-Message-moreMenu [aria-label='Show Conversation']",
            run: "click",
        },
        {
            content: "the conversation shows the customer's earlier question, then the email",
            trigger:
                ".modal .o_mail_conversation .o_kanban_record:contains(Earlier question) ~ .o_kanban_record:contains(Logged offer)",
        },
        {
            content: "with its attachment",
            trigger: ".modal .o_kanban_record:contains(Logged offer) .o_field_many2many_binary:contains(offer.pdf)",
        },
        {
            trigger: ".modal-footer button[special=cancel]",
            run: "click",
        },
        {
            trigger: "body:not(:has(.modal))",
            run: "hover && click .o-mail-Message:contains(Logged offer) [title='Reply']",
        },
        {
            trigger: ".modal .o_mail_composer_form [name=subject] input:value(Re: Logged offer)",
        },
        {
            trigger: ".modal .o_mail_composer_form [name=partner_ids] .o_tag:contains(Carla Contact)",
        },
    ],
});
