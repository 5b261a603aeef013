import * as messageActions from "@mail/core/common/message_actions";

/**
 * The one place where the message actions of Odoo 18.0 and 19.0 differ for this addon.
 *
 * 18.0: `condition(component)`, `onClick(component)`, `title`: the message and the thread are
 * the component's props. 19.0: `condition({ message, thread })`, `onSelected({ message, thread,
 * owner })`, `name`. 19.0 exports `registerMessageAction`, 18.0 does not: that tells them apart.
 *
 * `addMessageAction(id, { condition, run, icon, name, sequence, btnClass })` registers an action
 * for either version; `condition` and `run` receive `{ message, thread, env }`.
 */
const IS_MAIL_19 = "registerMessageAction" in messageActions;

export function addMessageAction(id, { condition, run, name, ...definition }) {
    if (IS_MAIL_19) {
        messageActions.messageActionsRegistry.add(id, {
            ...definition,
            name,
            condition: ({ message, thread, owner }) => condition({ message, thread, env: owner?.env }),
            onSelected: ({ message, thread, owner }) => run({ message, thread, env: owner.env }),
        });
    } else {
        messageActions.messageActionsRegistry.add(id, {
            ...definition,
            title: name,
            condition: (component) =>
                condition({
                    message: component.props.message,
                    thread: component.props.thread,
                    env: component.env,
                }),
            onClick: (component) =>
                run({ message: component.props.message, thread: component.props.thread, env: component.env }),
        });
    }
}
