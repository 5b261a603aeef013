import { messageActionsRegistry } from "@mail/core/common/message_actions";
import { ConfirmationDialog } from "@web/core/confirmation_dialog/confirmation_dialog";
import { _t } from "@web/core/l10n/translation";

/**
 * Run a timeline action of a logged email (L8): the server checks access
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
    .add("mail-logging-associations", {
        // the contacts, companies and opportunities the email appears on (L2)
        condition: (component) => Boolean(component.props.message.logEmail),
        icon: "fa fa-sitemap",
        title: _t("Associations"),
        onClick: (component) => openLoggedEmailAction(component, "action_edit_associations"),
        sequence: 75,
    })
    .add("mail-logging-expand", {
        condition: (component) => Boolean(component.props.message.logEmail),
        icon: "fa fa-expand",
        title: _t("Show Conversation"),
        onClick: (component) => openLoggedEmailAction(component, "action_expand_logged_email"),
        sequence: 73,
    })
    .add("mail-logging-delete", {
        // where Odoo's own Delete is not offered (emails logged from a mailbox are not "comment"s)
        condition: (component) =>
            Boolean(component.props.message.logEmail && component.props.message.logEditable) &&
            !component.props.message.editable,
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
