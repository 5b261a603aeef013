import { Component } from "@odoo/owl";
import { hasTouch } from "@web/core/browser/feature_detection";
import { browser } from "@web/core/browser/browser";
import { _t } from "@web/core/l10n/translation";
import { usePopover } from "@web/core/popover/popover_hook";
import { useService } from "@web/core/utils/hooks";

import { MailTrackingPopover } from "./mail_tracking_popover";

/** Time to move the pointer from the icons into the popover. */
const CLOSE_DELAY = 300;

/**
 * The open and click icons of a tracked email in the chatter (N4): filled
 * once a recipient opened / clicked; hovering (tapping, on touch screens)
 * shows each recipient's engagement.
 */
export class MailTrackingStatus extends Component {
    static template = "mail_tracking_ext.MailTrackingStatus";
    static props = ["message"];

    setup() {
        this.engagement = useService("mail_tracking_ext.engagement");
        this.popover = usePopover(MailTrackingPopover, {
            position: "bottom",
            popoverClass: "o-mail-TrackingPopover-container",
            onClose: () => browser.clearTimeout(this.closeTimeout),
        });
        this.closeTimeout = null;
    }

    get tracking() {
        return this.props.message.mailTracking;
    }

    get recipients() {
        return this.tracking.recipients || [];
    }

    get isOpened() {
        return this.recipients.some((recipient) => recipient.state !== "sent");
    }

    get isClicked() {
        return this.recipients.some((recipient) => recipient.state === "clicked");
    }

    get openLabel() {
        return this.isOpened ? _t("Opened") : _t("Not opened yet");
    }

    get clickLabel() {
        return this.isClicked ? _t("Clicked") : _t("No click yet");
    }

    get title() {
        if (this.isClicked) {
            return _t("Clicked");
        }
        return this.isOpened ? _t("Opened") : _t("Sent");
    }

    open(target) {
        browser.clearTimeout(this.closeTimeout);
        if (this.popover.isOpen) {
            return;
        }
        this.popover.open(target, {
            messageId: this.props.message.id,
            onMouseEnter: () => browser.clearTimeout(this.closeTimeout),
            onMouseLeave: () => this.scheduleClose(),
        });
        this.refresh();
    }

    scheduleClose() {
        browser.clearTimeout(this.closeTimeout);
        this.closeTimeout = browser.setTimeout(() => this.popover.close(), CLOSE_DELAY);
    }

    /** Catch up with what was recorded before the page listened (e.g. the email just left). */
    refresh() {
        return this.engagement.refresh(this.props.message);
    }

    onMouseEnter(ev) {
        if (!hasTouch()) {
            this.open(ev.currentTarget);
        }
    }

    onMouseLeave() {
        if (!hasTouch()) {
            this.scheduleClose();
        }
    }

    onClick(ev) {
        if (this.popover.isOpen && hasTouch()) {
            this.popover.close();
        } else {
            this.open(ev.currentTarget);
        }
    }
}
