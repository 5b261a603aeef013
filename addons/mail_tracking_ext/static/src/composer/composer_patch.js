import { Composer } from "@mail/core/common/composer";
import { useEffect, useState } from "@odoo/owl";
import { session } from "@web/session";
import { patch } from "@web/core/utils/patch";

import { composerRecipientPartnerIds } from "../compat/composer";

/**
 * Per-message "Track opens", "Track clicks" (T3) and "Log" (L1) switches
 * in the chatter's composer. They start from the user's defaults for every
 * new message and never change those defaults. The session gives the
 * defaults of the current company; the record's own company, whose rules the
 * email follows, may differ: its state replaces them as soon as the server
 * answers, unless the user already set a switch.
 */
patch(Composer.prototype, {
    setup() {
        super.setup();
        this.mailTrackingDefaults = session.mail_tracking || { allowed: false };
        this.mailTracking = useState({
            trackOpens: Boolean(this.mailTrackingDefaults.track_opens),
            trackClicks: Boolean(this.mailTrackingDefaults.track_clicks),
            logEmail: Boolean(this.mailTrackingDefaults.log_email),
            allowed: Boolean(this.mailTrackingDefaults.allowed),
            untracked: [],
            touched: false,
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
        if (!this.showMailLoggingSwitch) {
            return null;
        }
        return `${this.thread.model},${this.thread.id}:${this.mailTrackingRecipientIds.join(",")}`;
    },
    get mailTrackingRecipientIds() {
        return composerRecipientPartnerIds(this.thread);
    },
    /**
     * The record's rules and who would get this email untracked (P1, P2), as
     * the full composer says.
     */
    async fetchUntrackedRecipients() {
        const thread = this.thread;
        if (!thread.id) {
            return;
        }
        const request = (this.mailTrackingRequest = (this.mailTrackingRequest || 0) + 1);
        let state;
        try {
            state = await this.env.services.orm.silent.call(
                thread.model,
                "mail_tracking_composer_state",
                [[thread.id]],
                { partner_ids: this.mailTrackingRecipientIds }
            );
        } catch {
            // a notice, not a reason to stop anybody writing: the server still decides
            return;
        }
        if (request !== this.mailTrackingRequest) {
            return;
        }
        this.mailTracking.untracked = state.untracked;
        this.mailTracking.allowed = state.allowed;
        if (!this.mailTracking.touched) {
            this.mailTracking.trackOpens = state.track_opens;
            this.mailTracking.trackClicks = state.track_clicks;
            this.mailTracking.logEmail = state.log_email;
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
        return this.mailTracking.allowed && this.isEmailToContacts;
    },
    get showMailLoggingSwitch() {
        return session.mail_tracking !== undefined && this.isEmailToContacts;
    },
    toggleMailTracking(key) {
        this.mailTracking[key] = !this.mailTracking[key];
        this.mailTracking.touched = true;
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
