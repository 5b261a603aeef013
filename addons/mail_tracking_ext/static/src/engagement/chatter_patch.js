import { Chatter } from "@mail/chatter/web_portal/chatter";
import { useEffect } from "@odoo/owl";
import { useBus, useService } from "@web/core/utils/hooks";
import { patch } from "@web/core/utils/patch";

import { ENGAGEMENT_CHANGED } from "./engagement_service";

/** The server checks that the user may read the record before subscribing (P4). */
const THREAD_CHANNEL_PREFIX = "mail_tracking_ext.thread/";

/** A chatter listens to the live engagement of its record's tracked emails (N4). */
patch(Chatter.prototype, {
    setup() {
        super.setup(...arguments);
        const busService = useService("bus_service");
        useEffect(
            (model, id) => {
                if (!model || !id || model === "discuss.channel") {
                    return;
                }
                const channel = `${THREAD_CHANNEL_PREFIX}${model}/${id}`;
                busService.addChannel(channel);
                return () => busService.deleteChannel(channel);
            },
            () => [this.state.thread?.model, this.state.thread?.id]
        );
        // the form's statistics buttons follow the live icons (N5), unless the user is editing it
        useBus(this.env.bus, ENGAGEMENT_CHANGED, async ({ detail }) => {
            // the form's record: webRecord in Odoo 18.0, record in 19.0
            const record = this.props.record ?? this.props.webRecord;
            if (
                record &&
                detail.model === this.props.threadModel &&
                detail.id === this.props.threadId &&
                !(await record.isDirty())
            ) {
                await record.load();
            }
        });
    },
});
