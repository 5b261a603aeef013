// Everything the extension knows about Gmail's compose window: its selectors, in one place.
// When Gmail changes its page, this file is the one to change (README: "When Gmail changes").
// Only language-independent hooks: names, attributes and Gmail's stable class of the Send button,
// never a label such as "Send" or "Message Body", which Gmail translates.

const SUBJECT = 'input[name="subjectbox"]';
const BODY = 'div[contenteditable="true"][g_editable="true"], div[contenteditable="true"][role="textbox"][aria-label]';
const SEND = 'div[role="button"].aoO, div[role="button"][data-tooltip*="Enter"]';
// a recipient chip: new Gmail's option with the address in data-hovercard-id, older Gmail's span[email]
const CHIP = '[role="option"][data-hovercard-id], [email]';
export const RECIPIENT_KINDS = ["to", "cc", "bcc"];

/** The compose windows open in ``doc``: for each, the smallest element holding its subject and Send button. */
export function composeRoots(doc) {
    const roots = [];
    for (const subject of doc.querySelectorAll(SUBJECT)) {
        let root = subject.parentElement;
        while (root && !root.querySelector(SEND)) {
            root = root.parentElement;
        }
        if (root && !roots.includes(root)) {
            roots.push(root);
        }
    }
    return roots;
}

export const subjectOf = (root) => root.querySelector(SUBJECT);
export const bodyOf = (root) => root.querySelector(BODY);
export const sendButtonOf = (root) => root.querySelector(SEND);
/** The address the email is sent from, where Gmail says it (several "Send mail as" addresses). */
export const senderOf = (root) => root.querySelector('input[name="from"]')?.value || null;
export const isSendButton = (element) => Boolean(element?.closest?.(SEND));
// what ends the compose window without sending: Gmail's "Save & close" (img.Ha, the draft is
// kept) and "Discard draft" (.og); they sit in the window's title bar and footer, outside the root
const CLOSE = 'img.Ha, [role="button"].Ha, [role="button"].og';
export const isCloseButton = (element) => Boolean(element?.closest?.(CLOSE));
/**
 * The compose window (Gmail's dialog) ``element`` belongs to; in Gmail the title bar with the close
 * button is a sibling of the part holding the subject and Send, so the root alone does not hold it.
 */
export const composeWindowOf = (element) => element?.closest?.('[role="dialog"]') || null;

/** The row under the subject where the extension's bar goes: after the form of the headers. */
export function barAnchorOf(root) {
    const subject = subjectOf(root);
    return subject.form || subject.parentElement;
}

/** ``{to: [chip...], cc: [...], bcc: [...]}``: the recipient chips of each field. */
export function recipientChips(root) {
    const chips = {};
    for (const kind of RECIPIENT_KINDS) {
        chips[kind] = [...root.querySelectorAll(`[name="${kind}"]`)]
            .flatMap((field) => [...field.querySelectorAll(CHIP)])
            .filter((chip) => !chip.parentElement.closest(CHIP)); // a span[email] inside an option is the same chip
    }
    return chips;
}

export function chipEmail(chip) {
    return (chip.getAttribute("data-hovercard-id") || chip.getAttribute("email") || "").trim().toLowerCase();
}

/** ``{to: [address...], cc: [...], bcc: [...]}`` as Gmail will send them. */
export function recipients(root) {
    const chips = recipientChips(root);
    return Object.fromEntries(RECIPIENT_KINDS.map((kind) => [
        kind, [...new Set(chips[kind].map(chipEmail).filter((email) => email.includes("@")))]]));
}
