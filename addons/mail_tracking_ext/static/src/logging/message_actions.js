import { ConfirmationDialog } from "@web/core/confirmation_dialog/confirmation_dialog";
import { _t } from "@web/core/l10n/translation";

import { addMessageAction } from "../compat/message_actions";

/**
 * Run a timeline action of a logged email (L8): the server checks access
 * and prepares the dialog. Composers go to the email's own record when the
 * user may write there, else to the timeline it is read on, which reloads
 * once they close, as after Odoo's full composer.
 */
async function openLoggedEmailAction({ message, thread, env }, method, { composer = false } = {}) {
    const action = await env.services.orm.call(
        "mail.message",
        method,
        [[message.id]],
        composer ? { thread_model: thread.model, thread_id: thread.id } : {}
    );
    return env.services.action.doAction(action, {
        onClose: composer ? () => thread.fetchNewMessages() : undefined,
    });
}

addMessageAction("mail-logging-reply", {
    condition: ({ message, thread }) => Boolean(message.logEmail) && !message.canReplyTo(thread),
    icon: "fa fa-reply",
    name: _t("Reply"),
    run: (params) => openLoggedEmailAction(params, "action_reply_logged_email", { composer: true }),
    sequence: 20,
});
addMessageAction("mail-logging-forward", {
    condition: ({ message }) => Boolean(message.logEmail),
    icon: "fa fa-share",
    name: _t("Forward"),
    run: (params) => openLoggedEmailAction(params, "action_forward_logged_email", { composer: true }),
    sequence: 72,
});
addMessageAction("mail-logging-associations", {
    // the contacts, companies and opportunities the email appears on (L2)
    condition: ({ message }) => Boolean(message.logEmail),
    icon: "fa fa-sitemap",
    name: _t("Associations"),
    run: (params) => openLoggedEmailAction(params, "action_edit_associations"),
    sequence: 75,
});
addMessageAction("mail-logging-expand", {
    condition: ({ message }) => Boolean(message.logEmail),
    icon: "fa fa-expand",
    name: _t("Show Conversation"),
    run: (params) => openLoggedEmailAction(params, "action_expand_logged_email"),
    sequence: 73,
});
addMessageAction("mail-logging-delete", {
    // where Odoo's own Delete is not offered (emails logged from a mailbox are not "comment"s)
    condition: ({ message }) => Boolean(message.logEmail && message.logEditable) && !message.editable,
    btnClass: "text-danger",
    icon: "fa fa-trash",
    name: _t("Delete"),
    run: ({ message, env }) =>
        env.services.dialog.add(ConfirmationDialog, {
            body: _t("Delete this email from every timeline it is logged on?"),
            confirmLabel: _t("Delete"),
            confirm: async () => {
                await env.services.orm.call("mail.message", "action_delete_logged_email", [[message.id]]);
                message.delete();
            },
            cancel: () => {},
        }),
    sequence: 90,
});
