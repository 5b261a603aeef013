import { browser } from "@web/core/browser/browser";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";

import { applyEngagement, recipientLabel } from "./mail_tracking_utils";

/** Triggered on the web client's bus when a record's tracked emails changed. */
export const ENGAGEMENT_CHANGED = "MAIL_TRACKING_EXT:ENGAGEMENT_CHANGED";

/**
 * Engagement pushed by the server when a recipient opens or clicks (N1, N4):
 * updates the tracked email in the chatter, counts it in the activity feed's
 * counter (N2) and, when the author wants it, notifies them in the web
 * client and on the desktop.
 */
export class MailTrackingEngagement {
    constructor(env, services) {
        this.env = env;
        this.store = services["mail.store"];
        this.notification = services.notification;
        this.action = services.action;
        this.multiTab = services.multi_tab;
        this.orm = services.orm;
        services.bus_service.subscribe("mail_tracking_ext/engagement", (payload) =>
            this.onEngagement(payload)
        );
    }

    onEngagement(payload) {
        const message = this.store.Message.get(payload.message_id);
        if (payload.refresh) {
            // the record's chatter is only told that something happened: it asks the
            // server, which shows each viewer what they may see (P4)
            if (message) {
                this.refresh(message);
            }
            return;
        }
        if (message?.mailTracking) {
            const tracking = applyEngagement(message.mailTracking, payload);
            if (tracking) {
                this.store.Message.insert({ id: message.id, mailTracking: tracking });
            }
        }
        if (payload.for_author) {
            this.store.mailTrackingFeedUnread = (this.store.mailTrackingFeedUnread || 0) + 1;
            if (payload.notify) {
                this.notify(payload);
            }
        }
    }

    async refresh(message) {
        const data = await this.orm.silent.call("mail.message", "mail_tracking_fetch_status", [
            [message.id],
        ]);
        this.store.insert(data);
        // the record's form reloads its statistics (N5) as its chatter changed (N4)
        if (message.thread?.model && message.thread?.id) {
            this.env.bus.trigger(ENGAGEMENT_CHANGED, {
                model: message.thread.model,
                id: message.thread.id,
            });
        }
    }

    notify(payload) {
        const who = recipientLabel(payload.recipient);
        const click = payload.events.find((event) => event.type === "click");
        const title = click
            ? _t("%(who)s clicked a link in your email", { who })
            : _t("%(who)s opened your email", { who });
        const lines = [payload.subject || _t("(no subject)")];
        if (click?.url) {
            lines.push(click.url);
        }
        const text = lines.join(" · ");
        const buttons = [];
        if (payload.model && payload.res_id) {
            buttons.push({
                name: _t("Open"),
                primary: true,
                onClick: () => {
                    close();
                    this.openRecord(payload);
                },
            });
        }
        const close = this.notification.add(text, {
            title,
            type: "info",
            className: "o-mail-TrackingNotification",
            buttons,
        });
        this.notifyDesktop(title, text, payload);
    }

    /** A browser notification too, where the user allowed them, once for all tabs. */
    notifyDesktop(title, text, payload) {
        if (
            browser.Notification?.permission !== "granted" ||
            !this.multiTab.isOnMainTab() ||
            (document.visibilityState === "visible" && document.hasFocus())
        ) {
            return;
        }
        try {
            const notification = new browser.Notification(title, { body: text });
            notification.addEventListener("click", () => {
                window.focus();
                notification.close();
                if (payload.model && payload.res_id) {
                    this.openRecord(payload);
                }
            });
        } catch {
            // some mobile browsers only notify through a service worker: the in-app one is enough
        }
    }

    openRecord(payload) {
        this.action.doAction({
            type: "ir.actions.act_window",
            res_model: payload.model,
            res_id: payload.res_id,
            views: [[false, "form"]],
        });
    }
}

export const mailTrackingEngagementService = {
    dependencies: ["action", "bus_service", "mail.store", "multi_tab", "notification", "orm"],
    start(env, services) {
        return new MailTrackingEngagement(env, services);
    },
};

registry.category("services").add("mail_tracking_ext.engagement", mailTrackingEngagementService);
