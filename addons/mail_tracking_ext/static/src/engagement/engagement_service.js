import { browser } from "@web/core/browser/browser";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";

import { messageModel } from "../compat/store";
import { recipientLabel } from "./mail_tracking_utils";

/** Triggered on the web client's bus when a record's tracked emails changed. */
export const ENGAGEMENT_CHANGED = "MAIL_TRACKING_EXT:ENGAGEMENT_CHANGED";

/**
 * Engagement pushed by the server when a recipient opens, clicks or replies
 * (N1, N4). The push only says which email changed: the tracked email shown in
 * the chatter is fetched again from the server, the one place that says what
 * each user may see of it (P4). The author's push also counts in the activity
 * feed's counter (N2) and, when they want it, notifies them in the web client
 * and on the desktop.
 */
export class MailTrackingEngagement {
    constructor(env, services) {
        this.env = env;
        this.store = services["mail.store"];
        this.notification = services.notification;
        this.action = services.action;
        this.multiTab = services.multi_tab;
        this.orm = services.orm;
        /** Messages being fetched: whether to fetch once more, and to reload statistics after. */
        this.fetching = new Map();
        services.bus_service.subscribe("mail_tracking_ext/engagement", (payload) =>
            this.onEngagement(payload)
        );
    }

    onEngagement(payload) {
        const message = messageModel(this.store).get(payload.message_id);
        if (message) {
            this.refresh(message, { reloadStatistics: true });
        }
        if (payload.for_author) {
            this.store.mailTrackingFeedUnread = (this.store.mailTrackingFeedUnread || 0) + 1;
            if (payload.notify) {
                this.notify(payload);
            }
        }
    }

    /**
     * Fetch the tracking of ``message`` the user may see; pushes arriving
     * meanwhile (the author's and the record's channels) fetch once more
     * after, and the record's statistics reload once the last fetch is in.
     */
    async refresh(message, { reloadStatistics = false } = {}) {
        const pending = this.fetching.get(message.id);
        if (pending) {
            pending.again = true;
            pending.reloadStatistics ||= reloadStatistics;
            return;
        }
        const state = { again: false, reloadStatistics };
        this.fetching.set(message.id, state);
        try {
            do {
                state.again = false;
                const data = await this.orm.silent.call("mail.message", "mail_tracking_fetch_status", [
                    [message.id],
                ]);
                this.store.insert(data);
            } while (state.again);
        } finally {
            this.fetching.delete(message.id);
        }
        // the record's form reloads its statistics (N5) as its chatter changed (N4)
        if (state.reloadStatistics && message.thread?.model && message.thread?.id) {
            this.env.bus.trigger(ENGAGEMENT_CHANGED, {
                model: message.thread.model,
                id: message.thread.id,
            });
        }
    }

    notify(payload) {
        const who = recipientLabel(payload.recipient);
        const title =
            payload.event === "click"
                ? _t("%(who)s clicked a link in your email", { who })
                : _t("%(who)s opened your email", { who });
        const lines = [payload.subject || _t("(no subject)")];
        if (payload.url) {
            lines.push(payload.url);
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
