import { _t } from "@web/core/l10n/translation";
import { deserializeDateTime, formatDateTime } from "@web/core/l10n/dates";

/** Order of a tracked recipient's states: an event never moves it back. */
const STATE_RANK = { sent: 0, opened: 1, clicked: 2 };

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

/**
 * The message's tracking data with one event pushed by the server applied
 * (N4). Events already known (same id) are ignored: the same event can
 * arrive through the author's and the record's channels.
 *
 * @returns {Object|null} the new tracking data, or null when nothing changed
 */
export function applyEngagement(tracking, payload) {
    const recipients = [...(tracking.recipients || [])];
    const index = recipients.findIndex((recipient) => recipient.id === payload.recipient.id);
    const previous = index >= 0 ? recipients[index] : { opens: [], clicks: [], sent_date: false };
    const recipient = {
        ...previous,
        ...payload.recipient,
        opens: [...(previous.opens || [])],
        clicks: [...(previous.clicks || [])],
    };
    if ((STATE_RANK[previous.state] || 0) > (STATE_RANK[payload.recipient.state] || 0)) {
        recipient.state = previous.state;
    }
    recipient.first_open_date = previous.first_open_date || payload.recipient.first_open_date;
    recipient.open_count = previous.open_count || previous.opens?.length || 0;
    recipient.click_count = previous.click_count || previous.clicks?.length || 0;
    let changed = index < 0 || recipient.state !== previous.state;
    for (const event of payload.events) {
        const isClick = event.type === "click";
        const list = isClick ? recipient.clicks : recipient.opens;
        if (!list.some((known) => known.id === event.id)) {
            list.push({ id: event.id, date: event.date, url: event.url, inferred: event.inferred });
            recipient[isClick ? "click_count" : "open_count"]++;
            changed = true;
        }
    }
    if (!changed) {
        return null;
    }
    recipient.last_open_date = recipient.opens.at(-1)?.date || false;
    if (index >= 0) {
        recipients[index] = recipient;
    } else {
        recipients.push(recipient);
    }
    return { ...tracking, recipients };
}
