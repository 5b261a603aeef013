import { Composer } from "@mail/core/common/composer";
import { useState } from "@odoo/owl";
import { session } from "@web/session";
import { patch } from "@web/core/utils/patch";

/**
 * Per-message "Track opens" / "Track clicks" switches in the chatter's
 * composer (SPEC T3). They start from the user's defaults for every new
 * message and never change those defaults.
 */
patch(Composer.prototype, {
    setup() {
        super.setup();
        this.mailTrackingDefaults = session.mail_tracking || { allowed: false };
        this.mailTracking = useState({
            trackOpens: Boolean(this.mailTrackingDefaults.track_opens),
            trackClicks: Boolean(this.mailTrackingDefaults.track_clicks),
        });
    },
    get showMailTrackingSwitches() {
        return (
            this.mailTrackingDefaults.allowed &&
            this.props.type === "message" &&
            !this.props.composer.message &&
            this.thread &&
            this.thread.model !== "discuss.channel"
        );
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
        return postData;
    },
});
