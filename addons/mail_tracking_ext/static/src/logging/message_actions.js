import { messageActionsRegistry } from "@mail/core/common/message_actions";
import { _t } from "@web/core/l10n/translation";

/**
 * "Associations" on a logged email in the chatter: edit the contacts,
 * companies and opportunities it appears on (SPEC L2). The server sends
 * ``logEmail`` to internal users only.
 */
messageActionsRegistry.add("mail-logging-associations", {
    condition: (component) => Boolean(component.props.message.logEmail),
    icon: "fa fa-sitemap",
    title: _t("Associations"),
    onClick: (component) =>
        component.env.services.action.doAction({
            type: "ir.actions.act_window",
            name: _t("Associations"),
            res_model: "mail.message.association.wizard",
            views: [[false, "form"]],
            target: "new",
            context: { default_message_id: component.props.message.id },
        }),
    sequence: 75,
});
