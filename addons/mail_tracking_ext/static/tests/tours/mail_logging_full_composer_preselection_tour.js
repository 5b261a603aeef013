import { registry } from "@web/core/registry";

/**
 * L2, P4: an own-documents salesperson opens the full composer on a customer who also
 * has a colleague's opportunity: it opens, pre-selects only records the salesperson
 * may read, shows no tracking notice for a trackable contact, and sends.
 */
registry.category("web_tour.tours").add("mail_tracking_ext_full_composer_preselection", {
    steps: () => [
        {
            trigger: ".o-mail-Chatter-topbar button:contains(Send message)",
            run: "click",
        },
        {
            trigger: ".o-mail-Composer-input",
            run: "edit Our offer: https://shop.example/offer",
        },
        {
            // the button's label: 18.0, 19.0
            trigger: "button[aria-label='Full composer'], button[title='Open Full Composer']",
            run: "click",
        },
        {
            content: "the contact and its company are pre-selected",
            trigger: ".o_mail_composer_form_view [name=log_partner_ids] .o_tag:contains(Anna Customer)",
        },
        {
            content: "the colleague's opportunity is not offered",
            trigger: ".o_mail_composer_form_view [name=log_lead_ids]:not(:has(.o_tag:contains(Colleague)))",
        },
        {
            content: "a trackable contact: no notice under the switches",
            trigger: ".o_mail_composer_form_view:has([name=track_opens] input:checked):not(:has([name=mail_tracking_notice]))",
        },
        {
            trigger: ".modal .o_mail_send",
            run: "click",
        },
        {
            content: "sent: the email is on the opportunity's timeline",
            trigger: "body:not(:has(.modal)) .o-mail-Message-body:contains(Our offer)",
        },
    ],
});
