import { registry } from "@web/core/registry";

/** L3: a recipient added as a new contact in the full composer, Log on, is a logging contact. */
registry.category("web_tour.tours").add("mail_tracking_ext_full_composer_new_contact", {
    steps: () => [
        {
            trigger: ".o-mail-Chatter-topbar button:contains(Send message)",
            run: "click",
        },
        {
            // the button's label: 18.0, 19.0
            trigger: "button[aria-label='Full composer'], button[title='Open Full Composer']",
            run: "click",
        },
        {
            content: "Log is on by default",
            trigger: ".o_mail_composer_form_view [name=log_email] input:checked",
        },
        {
            content: "an address that is not in the CRM yet",
            trigger: ".o_mail_composer_form_view [name=partner_ids] input",
            run: "edit Nina New",
        },
        {
            trigger: ".o-autocomplete--dropdown-item:contains(Create and edit)",
            run: "click",
        },
        {
            trigger: ".modal:not(:has(.o_mail_composer_form_view)) [name=email] input",
            run: "edit nina@newco.example",
        },
        {
            trigger: ".modal:not(:has(.o_mail_composer_form_view)) .o_form_button_save",
            run: "click",
        },
        {
            trigger: ".o_mail_composer_form_view [name=partner_ids] .o_tag:contains(Nina New)",
        },
        {
            trigger: ".modal .o_mail_send",
            run: "click",
        },
        {
            content: "sent: the email is on the opportunity's timeline",
            trigger: "body:not(:has(.modal)) .o-mail-Message:contains(Sara Sales)",
        },
    ],
});
