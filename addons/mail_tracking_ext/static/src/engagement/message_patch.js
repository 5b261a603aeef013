import { Message } from "@mail/core/common/message";

import { MailTrackingStatus } from "./mail_tracking_status";

/** Tracked emails show their open and click icons in the header (N4). */
Object.assign(Message.components, { MailTrackingStatus });
