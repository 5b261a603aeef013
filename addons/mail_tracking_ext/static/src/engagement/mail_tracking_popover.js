import { Component, useState } from "@odoo/owl";
import { useService } from "@web/core/utils/hooks";

import { messageModel } from "../compat/store";
import { formatTrackingDate, recipientLabel, stateLabel } from "./mail_tracking_utils";

/** How many opens and clicks a recipient shows before "and N earlier ones". */
const OPENS_SHOWN = 5;
const CLICKS_SHOWN = 10;

/**
 * Each recipient of a tracked email with its status and the exact local
 * times of its opens and clicks (N4). Reads the message from the store, so
 * it follows live updates while open.
 */
export class MailTrackingPopover extends Component {
    static template = "mail_tracking_ext.MailTrackingPopover";
    static props = ["messageId", "onMouseEnter?", "onMouseLeave?", "close?"];

    setup() {
        this.store = useState(useService("mail.store"));
        this.formatDate = formatTrackingDate;
        this.recipientLabel = recipientLabel;
        this.stateLabel = stateLabel;
    }

    get tracking() {
        return messageModel(this.store).get(this.props.messageId)?.mailTracking || {};
    }

    get recipients() {
        return this.tracking.recipients || [];
    }

    shownOpens(recipient) {
        return recipient.opens.slice(-OPENS_SHOWN).reverse();
    }

    hiddenOpenCount(recipient) {
        const shown = this.shownOpens(recipient).filter((open) => open.counted !== false).length;
        return Math.max((recipient.open_count || 0) - shown, 0);
    }

    shownClicks(recipient) {
        return recipient.clicks.slice(-CLICKS_SHOWN).reverse();
    }

    hiddenClickCount(recipient) {
        const shown = this.shownClicks(recipient).filter((click) => click.counted !== false).length;
        return Math.max((recipient.click_count || 0) - shown, 0);
    }
}
