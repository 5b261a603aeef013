import { Composer } from "@mail/core/common/composer";
import { useEffect, useState } from "@odoo/owl";
import { session } from "@web/session";
import { patch } from "@web/core/utils/patch";

/**
 * Per-message "Track opens", "Track clicks" (T3) and "Log" (L1) switches
 * in the chatter's composer. They start from the user's defaults for every
 * new message and never change those defaults.
 */
patch(Composer.prototype, {
    setup() {
        super.setup();
        this.mailTrackingDefaults = session.mail_tracking || { allowed: false };
        this.mailTracking = useState({
            trackOpens: Boolean(this.mailTrackingDefaults.track_opens),
            trackClicks: Boolean(this.mailTrackingDefaults.track_clicks),
            logEmail: Boolean(this.mailTrackingDefaults.log_email),
            untracked: [],
        });
        useEffect(
            (recipientsKey) => {
                if (recipientsKey !== null) {
                    this.fetchUntrackedRecipients();
                }
            },
            () => [this.mailTrackingRecipientsKey]
        );
    },
    /**
     * The checked suggested recipients, read while rendering (the template shows
     * it) so that the composer follows them; null when no switch is shown.
     */
    get mailTrackingRecipientsKey() {
        if (!this.showMailTrackingSwitches) {
            return null;
        }
        return this.mailTrackingRecipientIds.join(",");
    },
    get mailTrackingRecipientIds() {
        return this.thread.suggestedRecipients
            .filter((recipient) => recipient.checked && recipient.persona)
            .map((recipient) => recipient.persona.id)
            .sort((a, b) => a - b);
    },
    /** Who would get this email untracked (P1, P2), as the full composer says. */
    async fetchUntrackedRecipients() {
        const thread = this.thread;
        if (!thread.id) {
            return;
        }
        const request = (this.mailTrackingRequest = (this.mailTrackingRequest || 0) + 1);
        let untracked = [];
        try {
            untracked = await this.env.services.orm.silent.call(
                thread.model,
                "mail_tracking_untracked_recipients",
                [[thread.id]],
                { partner_ids: this.mailTrackingRecipientIds }
            );
        } catch {
            // a notice, not a reason to stop anybody writing: the server still decides
        }
        if (request === this.mailTrackingRequest) {
            this.mailTracking.untracked = untracked;
        }
    },
    /** Emails written to contacts from a record's chatter, not notes nor edits. */
    get isEmailToContacts() {
        return (
            this.props.type === "message" &&
            !this.props.composer.message &&
            this.thread &&
            this.thread.model !== "discuss.channel"
        );
    },
    get showMailTrackingSwitches() {
        return this.mailTrackingDefaults.allowed && this.isEmailToContacts;
    },
    get showMailLoggingSwitch() {
        return session.mail_tracking !== undefined && this.isEmailToContacts;
    },
    toggleMailTracking(key) {
        this.mailTracking[key] = !this.mailTracking[key];
    },
    get postData() {
        const postData = super.postData;
        if (this.showMailTrackingSwitches) {
            postData.trackOpens = this.mailTracking.trackOpens;
            postData.trackClicks = this.mailTracking.trackClicks;
        }
        if (this.showMailLoggingSwitch) {
            postData.logEmail = this.mailTracking.logEmail;
        }
        return postData;
    },
});
