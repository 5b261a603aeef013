/**
 * The contacts an email written in the chatter's composer goes to: Odoo 18.0 lists the record's
 * suggested recipients with a checkbox each (`checked`, `persona`); 19.0 sends to every
 * suggested and additional recipient (`partner_id`, or `persona`) and has no checkbox.
 */
export function composerRecipientPartnerIds(thread) {
    const recipients = [...(thread.suggestedRecipients || []), ...(thread.additionalRecipients || [])];
    return recipients
        .filter((recipient) => recipient.checked !== false)
        .map((recipient) => recipient.persona?.id ?? recipient.partner_id)
        .filter(Boolean)
        .sort((a, b) => a - b);
}
