import { Component, useState } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";

/**
 * Top-bar entry of the activity feed (N2): engagement on my tracked emails
 * since I last looked, one click away.
 */
export class MailTrackingFeedSystray extends Component {
    static template = "mail_tracking_ext.FeedSystray";
    static props = [];

    setup() {
        this.store = useState(useService("mail.store"));
        this.orm = useService("orm");
        this.action = useService("action");
    }

    get counter() {
        return this.store.mailTrackingFeedUnread || 0;
    }

    async openFeed() {
        const action = await this.orm.call("res.users", "action_mail_tracking_feed", []);
        this.store.mailTrackingFeedUnread = 0;
        await this.action.doAction(action, { clearBreadcrumbs: true });
    }
}

registry
    .category("systray")
    .add("mail_tracking_ext.feed", { Component: MailTrackingFeedSystray }, { sequence: 30 });
