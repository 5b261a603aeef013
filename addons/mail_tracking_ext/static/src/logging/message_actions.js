import { messageActionsRegistry } from "@mail/core/common/message_actions";
import { ConfirmationDialog } from "@web/core/confirmation_dialog/confirmation_dialog";
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

/**
 * Run a timeline action of a logged email (SPEC L8): the server checks access
 * and prepares the dialog. Composers go to the email's own record when the
 * user may write there, else to the timeline it is read on, which reloads
 * once they close, as after Odoo's full composer.
 */
async function openLoggedEmailAction(component, method, { composer = false } = {}) {
    const { message, thread } = component.props;
    const action = await component.env.services.orm.call(
        "mail.message",
        method,
        [[message.id]],
        composer ? { thread_model: thread.model, thread_id: thread.id } : {}
    );
    return component.env.services.action.doAction(action, {
        onClose: composer ? () => thread.fetchNewMessages() : undefined,
    });
}

messageActionsRegistry
    .add("mail-logging-reply", {
        condition: (component) =>
            Boolean(component.props.message.logEmail) &&
            !component.props.message.canReplyTo(component.props.thread),
        icon: "fa fa-reply",
        title: _t("Reply"),
        onClick: (component) =>
            openLoggedEmailAction(component, "action_reply_logged_email", { composer: true }),
        sequence: 20,
    })
    .add("mail-logging-forward", {
        condition: (component) => Boolean(component.props.message.logEmail),
        icon: "fa fa-share",
        title: _t("Forward"),
        onClick: (component) =>
            openLoggedEmailAction(component, "action_forward_logged_email", { composer: true }),
        sequence: 72,
    })
    .add("mail-logging-expand", {
        condition: (component) => Boolean(component.props.message.logEmail),
        icon: "fa fa-expand",
        title: _t("Show Conversation"),
        onClick: (component) => openLoggedEmailAction(component, "action_expand_logged_email"),
        sequence: 73,
    })
    .add("mail-logging-delete", {
        // Odoo deletes the emails written in Odoo itself ("comment"); not those logged from a mailbox
        condition: (component) =>
            Boolean(component.props.message.logEmail && component.props.message.logEditable) &&
            component.props.message.message_type !== "comment",
        btnClass: "text-danger",
        icon: "fa fa-trash",
        title: _t("Delete"),
        onClick: (component) =>
            component.env.services.dialog.add(ConfirmationDialog, {
                body: _t("Delete this email from every timeline it is logged on?"),
                confirmLabel: _t("Delete"),
                confirm: async () => {
                    const message = component.props.message;
                    await component.env.services.orm.call("mail.message", "action_delete_logged_email", [
                        [message.id],
                    ]);
                    message.delete();
                },
                cancel: () => {},
            }),
        sequence: 90,
    });
