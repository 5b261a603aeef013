import { Store } from "@mail/core/common/store_service";
import { patch } from "@web/core/utils/patch";

patch(Store.prototype, {
    async getMessagePostParams({ postData }) {
        const params = await super.getMessagePostParams(...arguments);
        if (!postData.isNote && postData.trackOpens !== undefined) {
            params.post_data.track_opens = postData.trackOpens;
            params.post_data.track_clicks = postData.trackClicks;
        }
        if (!postData.isNote && postData.logEmail !== undefined) {
            params.post_data.log_email = postData.logEmail;
        }
        return params;
    },
});
