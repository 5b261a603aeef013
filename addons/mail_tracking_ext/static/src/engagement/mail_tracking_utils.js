import { _t } from "@web/core/l10n/translation";
import { deserializeDateTime, formatDateTime } from "@web/core/l10n/dates";

/** Who a tracked recipient is, as the author may know it (T7, N4). */
export function recipientLabel(recipient) {
    if (recipient.aggregate) {
        return _t("Other recipients (anonymous)");
    }
    if (recipient.anonymous) {
        return _t("Someone (anonymous)");
    }
    return recipient.name || recipient.email || _t("Someone");
}

export function stateLabel(state) {
    return { sent: _t("Sent"), opened: _t("Opened"), clicked: _t("Clicked") }[state] || state;
}

/** An exact date and time in the user's time zone, from the server's UTC string. */
export function formatTrackingDate(value) {
    return value ? formatDateTime(deserializeDateTime(value)) : "";
}
