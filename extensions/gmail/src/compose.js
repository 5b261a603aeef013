// The content script of Gmail: in each compose window, the Track and Log switches, the marker on
// recipients who are Odoo contacts, the record picker, "create as new contact", the reasons a
// switch is off; on Send, the tracked body from Odoo replaces Gmail's before Gmail sends it.
// Every text about recipients and rules comes from Odoo's API (the same sentences as Odoo's composer).
import css from "./compose.css";
import * as gmail from "./gmail_dom.js";
import { ask, h, t } from "./runtime.js";

const LOOKUP_DELAY_MS = 400;
const SEARCH_DELAY_MS = 300;
// Gmail closes the compose window once it accepted the email; not closed by then: not sent
const SENT_WAIT_MS = 15000;
const TOAST_MS = 10000;
const SEARCHED_MODELS = ["res.partner", "crm.lead"];

const MARK_CSS = `.slot { display: block; width: 8px; height: 8px; }
.dot { display: block; width: 8px; height: 8px; border-radius: 50%; background: #017e84; }`;
const TOAST_CSS = `.toast { max-width: 480px; padding: 12px 16px; border-radius: 8px; background: #202124; color: #fff;
  font: 14px/1.4 Roboto, Arial, sans-serif; box-shadow: 0 2px 8px rgba(0,0,0,.3); }
.toast.error { background: #b3261e; }`;

const bars = new Map(); // compose root -> ComposeBar
const markers = new WeakMap(); // marker on a chip -> the place of the dot in its closed shadow root
let mePromise = null;

/** GET me, once per page (again after a failure, e.g. before the settings were saved). */
function whoAmI() {
    mePromise ??= ask("me").catch((error) => {
        mePromise = null;
        throw error;
    });
    return mePromise;
}

const recordKey = (record) => `${record.model}:${record.id}`;

class ComposeBar {
    constructor(root) {
        this.root = root;
        this.subject = gmail.subjectOf(root);
        this.me = null;
        this.lookup = null; // the answer of POST recipients for the current addresses
        this.lookupKey = ""; // the recipients and switches of the lookup asked last
        this.lookedUpKey = null; // those of ``this.lookup``, the answer shown
        this.lookupSeq = 0;
        this.track = false;
        this.log = false;
        this.added = new Map(); // records the user added in the picker
        this.dropped = new Set(); // pre-selected records the user removed
        this.createChoices = new Map(); // new address -> whether the user wants it as a contact
        this.sending = false;
        this.draftClosed = null; // set while a send is pending: what the user's close or discard does
        this.build();
        new MutationObserver(() => this.scheduleLookup()).observe(root, {
            childList: true, subtree: true, attributes: true, attributeFilter: ["data-hovercard-id", "email"],
        });
        this.start();
    }

    build() {
        this.host = h("div", { className: "mtx-compose", "data-mtx": "compose-bar" });
        // closed: Gmail's page cannot read what Odoo says about the recipients
        const shadow = this.host.attachShadow({ mode: "closed" });
        this.parts = {
            switches: h("div", { className: "switches" }),
            notices: h("div", { className: "notices" }),
            records: h("div", { className: "records", "data-mtx": "records" }),
            contacts: h("div", { className: "contacts", "data-mtx": "new-contacts" }),
            status: h("p", { className: "status", "data-mtx": "status", role: "status" }),
        };
        this.searchInput = h("input", {
            type: "search", className: "search", "data-mtx": "record-search", placeholder: t("pickerSearch"),
            oninput: () => this.scheduleSearch(),
        });
        this.searchResults = h("ul", { className: "results", "data-mtx": "search-results" });
        this.picker = h("div", { className: "picker" }, this.searchInput, this.searchResults);
        shadow.append(h("style", { text: css }), h("section", { className: "bar" }, ...Object.values(this.parts)));
        gmail.barAnchorOf(this.root).after(this.host);
    }

    async start() {
        try {
            this.me = await whoAmI();
            const switches = this.me.switches;
            this.track = this.me.tracking_allowed
                && (switches.track_opens.default || switches.track_clicks.default);
            this.log = switches.log_email.available && switches.log_email.default;
        } catch (error) {
            this.status(error.message, "error");
        }
        this.render();
        this.scheduleLookup();
    }

    // -- what the switches mean ------------------------------------------------------------

    /** The switch states as the API takes them: Track follows the user's defaults for opens and clicks. */
    trackingSwitches() {
        if (!this.track) {
            return { track_opens: false, track_clicks: false };
        }
        const defaults = this.me.switches;
        if (defaults.track_opens.default || defaults.track_clicks.default) {
            return { track_opens: defaults.track_opens.default, track_clicks: defaults.track_clicks.default };
        }
        return { track_opens: true, track_clicks: true }; // turned on for this email only
    }

    /** ``{available, reason}`` of Track or Log for the current recipients. */
    switchState(name) {
        const names = name === "track" ? ["track_opens", "track_clicks"] : ["log_email"];
        const states = names.map((key) => (this.lookup || this.me)?.switches?.[key] || {});
        return {
            available: states.some((state) => state.available),
            reason: states.map((state) => state.disabled_reason).find(Boolean) || null,
        };
    }

    trackOn() {
        return this.track && this.switchState("track").available;
    }

    logOn() {
        return this.log && this.switchState("log").available;
    }

    /** Whether Send must go through Odoo first. */
    wantsOdoo() {
        return Boolean(this.me) && (this.trackOn() || this.logOn());
    }

    selectedRecords() {
        const preselected = (this.lookup?.recipients || []).flatMap((recipient) => recipient.log_records || []);
        const records = new Map();
        for (const record of [...preselected, ...this.added.values()]) {
            if (!this.dropped.has(recordKey(record))) {
                records.set(recordKey(record), record);
            }
        }
        return [...records.values()];
    }

    /** Whether ``email`` is to become a contact: the user's choice, else their Odoo preference. */
    createsContact(email) {
        return this.createChoices.get(email) ?? this.me?.user?.create_contacts_default === true;
    }

    newContacts() {
        return (this.lookup?.recipients || [])
            .filter((recipient) => recipient.can_create_contact && this.createsContact(recipient.email))
            .map((recipient) => recipient.email);
    }

    // -- recipients --------------------------------------------------------------------------

    scheduleLookup() {
        clearTimeout(this.lookupTimer);
        this.lookupTimer = setTimeout(() => this.lookUp(), LOOKUP_DELAY_MS);
    }

    /** The addresses and switches a lookup is for: ``{emails, switches, key}``. */
    lookupQuery() {
        const { to, cc, bcc } = gmail.recipients(this.root);
        const emails = [...new Set([...to, ...cc, ...bcc])];
        const switches = this.trackingSwitches();
        return { emails, switches, key: JSON.stringify([emails, switches]) };
    }

    /**
     * Ask Odoo about the current recipients; resolves with ``{key, lookup}`` (the answer and the
     * recipients and switches it is for, also when a later lookup superseded it), null on failure.
     */
    async lookUp() {
        if (!this.me || !this.root.isConnected) {
            return null;
        }
        const { emails, switches, key } = this.lookupQuery();
        if (key === this.lookupKey && key === this.lookedUpKey) {
            this.markChips();
            return { key, lookup: this.lookup };
        }
        this.lookupKey = key;
        const seq = ++this.lookupSeq;
        let lookup = null;
        if (emails.length) {
            try {
                lookup = await ask("recipients", { query: { emails, ...switches } });
            } catch (error) {
                this.lookupKey = "";
                this.status(error.message, "error");
                return null;
            }
        }
        if (seq === this.lookupSeq) {
            this.lookup = lookup;
            this.lookedUpKey = key;
            this.render();
        }
        return { key, lookup };
    }

    /**
     * Before Send: the lookup of the recipients Gmail sends to now (they may have changed within
     * the lookup's delay, or while Odoo answered); false when it failed or ``gone()``.
     */
    async lookUpCurrent(gone) {
        for (let attempt = 0; attempt < 3; attempt++) {
            if (this.lookupQuery().key === this.lookedUpKey) {
                return true;
            }
            clearTimeout(this.lookupTimer);
            this.lookupKey = "";
            const answer = await this.lookUp();
            if (!answer || gone()) {
                return false;
            }
            // the answer stands only for the recipients it was asked for; changed again: ask again
            if (answer.key === this.lookupQuery().key) {
                this.lookup = answer.lookup;
                this.lookedUpKey = answer.key;
                this.render();
                return true;
            }
        }
        this.status(t("statusNotSent", t("errorUnknown")), "error");
        return false;
    }

    /**
     * The same marker on every recipient chip (kept through Gmail's re-renders); only inside its
     * closed shadow root is there a dot, with the name and company, for an Odoo contact. Gmail's
     * page (or a fake chip it inserts) cannot tell a contact's chip from another's.
     */
    markChips() {
        const byEmail = new Map((this.lookup?.recipients || []).map((recipient) => [recipient.email, recipient]));
        for (const chips of Object.values(gmail.recipientChips(this.root))) {
            for (const chip of chips) {
                const contact = byEmail.get(gmail.chipEmail(chip))?.contact;
                let marker = chip.querySelector(":scope > .mtx-recipient-mark");
                if (!marker || !markers.has(marker)) {
                    marker?.remove();
                    marker = h("span", { className: "mtx-recipient-mark", "data-mtx": "recipient-mark" });
                    const shadow = marker.attachShadow({ mode: "closed" });
                    const slot = h("span", { className: "slot" });
                    shadow.append(h("style", { text: MARK_CSS }), slot);
                    markers.set(marker, slot);
                    chip.append(marker);
                }
                const slot = markers.get(marker);
                if (!contact) {
                    slot.replaceChildren();
                    continue;
                }
                const title = contact.company ? t("contactMarkCompany", contact.name, contact.company.name)
                    : t("contactMark", contact.name);
                const dot = slot.querySelector(".dot") || slot.appendChild(h("span", { className: "dot", role: "img" }));
                dot.title = title;
                dot.setAttribute("aria-label", title);
            }
        }
    }

    // -- the record picker -------------------------------------------------------------------

    scheduleSearch() {
        clearTimeout(this.searchTimer);
        this.searchTimer = setTimeout(() => this.search(), SEARCH_DELAY_MS);
    }

    async search() {
        const query = this.searchInput.value.trim();
        if (query.length < 2) {
            this.searchResults.replaceChildren();
            return;
        }
        try {
            const answers = await Promise.all(SEARCHED_MODELS.map(
                (model) => ask("searchRecords", { query: { model, query, limit: 5 } })));
            if (query !== this.searchInput.value.trim()) {
                return;
            }
            const chosen = new Set(this.selectedRecords().map(recordKey));
            const found = answers.flatMap((answer) => answer.records).filter((record) => !chosen.has(recordKey(record)));
            this.searchResults.replaceChildren(...(found.length ? found.map((record) => h("li", {},
                h("button", {
                    type: "button", className: "result", "data-mtx": "search-result",
                    onclick: () => this.addRecord(record),
                }, h("span", { text: record.name }), h("small", { text: record.model_name })))
            ) : [h("li", { className: "muted", text: t("pickerNothing") })]));
        } catch (error) {
            this.searchResults.replaceChildren(h("li", { className: "error", text: error.message }));
        }
    }

    addRecord(record) {
        this.dropped.delete(recordKey(record));
        this.added.set(recordKey(record), record);
        this.searchInput.value = "";
        this.searchResults.replaceChildren();
        this.render();
    }

    removeRecord(record) {
        this.added.delete(recordKey(record));
        this.dropped.add(recordKey(record));
        this.render();
    }

    // -- drawing -----------------------------------------------------------------------------

    render() {
        this.markChips();
        this.renderSwitches();
        this.renderNotices();
        this.renderRecords();
        this.renderContacts();
    }

    switchControl(name, label, on) {
        const { available, reason } = this.switchState(name);
        const input = h("input", {
            type: "checkbox", role: "switch", "data-mtx": `switch-${name}`,
            checked: on && available, disabled: !available || this.sending,
            onchange: (event) => {
                this[name] = event.target.checked;
                this.render();
                this.scheduleLookup();
            },
        });
        return h("label", { className: `switch${available ? "" : " disabled"}`, title: reason || "" },
            input, h("span", { className: "knob", "aria-hidden": "true" }), h("span", { text: label }));
    }

    renderSwitches() {
        const controls = [h("span", { className: "brand", text: "Odoo" })];
        if (this.me?.tracking_allowed) {
            controls.push(this.switchControl("track", t("switchTrack"), this.track));
        }
        if (this.me) {
            controls.push(this.switchControl("log", t("switchLog"), this.log));
        }
        const tracking = this.lookup?.tracking;
        if (this.trackOn() && tracking?.message) {
            controls.push(h("span", {
                className: `mode mode-${tracking.mode}`, "data-mtx": "tracking-mode", "data-mode": tracking.mode,
                text: tracking.message,
            }));
        }
        this.parts.switches.replaceChildren(...controls);
    }

    renderNotices() {
        const notices = [];
        const track = this.switchState("track");
        const log = this.switchState("log");
        if (this.me?.tracking_allowed && !track.available && track.reason) {
            notices.push(h("p", { className: "reason", "data-mtx": "track-reason", text: track.reason }));
        }
        // who is not tracked, in the Odoo composer's words (the reason above may be Gmail's one message)
        const untracked = this.lookup?.untracked_notice;
        if (this.me?.tracking_allowed && untracked && untracked !== track.reason) {
            notices.push(h("p", { className: "reason", "data-mtx": "untracked-notice", text: untracked }));
        }
        if (this.me && !log.available && log.reason) {
            notices.push(h("p", { className: "reason", "data-mtx": "log-reason", text: log.reason }));
        }
        this.parts.notices.replaceChildren(...notices);
    }

    renderRecords() {
        if (!this.logOn()) {
            this.parts.records.replaceChildren();
            return;
        }
        const chips = this.selectedRecords().map((record) => h("span", {
            className: "record", "data-mtx": "record", "data-model": record.model, "data-id": String(record.id),
            title: record.model_name || "",
        }, h("span", { text: record.name }), h("button", {
            type: "button", className: "remove", title: t("pickerRemove", record.name),
            "aria-label": t("pickerRemove", record.name), text: "×", onclick: () => this.removeRecord(record),
        })));
        this.parts.records.replaceChildren(h("span", { className: "label", text: t("pickerLabel") }),
            ...(chips.length ? chips : [h("span", { className: "muted", text: t("pickerNone") })]), this.picker);
    }

    renderContacts() {
        const candidates = this.logOn()
            ? (this.lookup?.recipients || []).filter((recipient) => recipient.can_create_contact) : [];
        this.parts.contacts.replaceChildren(...candidates.map((recipient) => h("label", { className: "new-contact" },
            h("input", {
                type: "checkbox", "data-mtx": "create-contact", "data-email": recipient.email,
                checked: this.createsContact(recipient.email),
                onchange: (event) => this.createChoices.set(recipient.email, event.target.checked),
            }),
            h("span", { text: t("createContact", recipient.email) }))));
    }

    status(text, kind = "info") {
        this.parts.status.textContent = text || "";
        this.parts.status.className = `status ${kind}`;
    }

    // -- sending -----------------------------------------------------------------------------

    /** Send through Odoo: prepare, put the tracked body in, let Gmail send, then confirm (or cancel). */
    async send() {
        if (this.sending) {
            return;
        }
        this.sending = true;
        this.render();
        this.status(t("statusPreparing"));
        // the user closes or discards the window while the send is pending (before or after Gmail
        // refused it), or the window leaves the page before Gmail was asked to send (popped out):
        // a draft, not a send; it keeps the user's own body, and Odoo forgets the prepared send
        const exit = { closed: false, restore: null };
        this.draftClosed = () => {
            exit.closed = true;
            exit.restore?.();
        };
        const gone = () => exit.closed || !this.subject.isConnected;
        let sendId = null;
        try {
            // recipients changed since the last lookup (Send within the lookup's delay): the records
            // and contacts must be those of the recipients Gmail sends to, so ask Odoo again first
            if (!(await this.lookUpCurrent(gone)) || gone()) {
                return;
            }
            const body = gmail.bodyOf(this.root);
            const original = body.innerHTML;
            const addresses = gmail.recipients(this.root);
            let prepared;
            try {
                prepared = await ask("prepare", {
                    send: {
                        subject: this.subject.value,
                        body_html: original,
                        ...(gmail.senderOf(this.root) ? { from: gmail.senderOf(this.root) } : {}),
                        ...addresses,
                        ...(this.trackOn() ? this.trackingSwitches() : { track_opens: false, track_clicks: false }),
                        log_email: this.logOn(),
                        records: this.logOn() ? this.selectedRecords().map(({ model, id }) => ({ model, id })) : [],
                        create_contacts: this.logOn() ? this.newContacts() : [],
                    },
                });
            } catch (error) {
                if (!gone()) {
                    this.status(t("statusNotSent", error.message), "error");
                }
                return;
            }
            sendId = prepared.send_id || null;
            if (gone()) {
                return; // the window went while Odoo prepared: never sent, the prepared send cancelled
            }
            if (!sendId) {
                this.status("");
                releaseSend(this.root);
                return;
            }
            body.innerHTML = prepared.body_html;
            exit.restore = () => {
                body.innerHTML = original;
            };
            releaseSend(this.root);
            const sent = await gmailSent(this.subject, () => exit.closed);
            if (exit.closed) {
                return;
            }
            if (!sent) {
                this.status(t("statusGmailKept"), "error");
                return;
            }
            const confirmedId = sendId;
            sendId = null;
            try {
                const confirmed = await ask("confirm", { send: { send_id: confirmedId } });
                toast(confirmedSentence(prepared, confirmed), "info");
            } catch (error) {
                toast(t("toastNotLogged", error.message), "error");
            }
        } finally {
            this.draftClosed = null;
            if (sendId) {
                exit.restore?.();
                ask("cancel", { send: { send_id: sendId } }).catch(() => {});
            }
            this.sending = false;
            if (this.subject.isConnected) {
                if (exit.closed) { // the close did not close the window: it stays, unsent
                    this.status(t("statusGmailKept"), "error");
                }
                this.render();
            }
        }
    }
}

/** What Odoo did with the email, for the toast shown once Gmail's compose window closed. */
function confirmedSentence(prepared, confirmed) {
    const parts = [];
    if (prepared.tracking?.mode && prepared.tracking.mode !== "none") {
        parts.push(prepared.tracking.message);
    }
    if (confirmed.logged_on?.length) {
        parts.push(t("toastLogged", confirmed.logged_on.map((record) => record.name).join(", ")));
    }
    if (confirmed.created_contacts?.length) {
        parts.push(t("toastCreated", confirmed.created_contacts.map((contact) => contact.name).join(", ")));
    }
    parts.push(...(confirmed.attachments_left_out || []));
    // what Odoo adds about this send (docs/gmail-api.md, the answer of confirm)
    parts.push(...(confirmed.notices || []).map((notice) => (typeof notice === "string" ? notice : notice?.message))
        .filter(Boolean));
    return parts.join(" ") || t("toastSent");
}

/** A note at the bottom of Gmail's page; its text (record names) in a closed shadow root. */
function toast(text, kind) {
    const host = h("div", { className: "mtx-toast-host", "data-mtx": "toast" });
    host.attachShadow({ mode: "closed" }).append(h("style", { text: TOAST_CSS }),
        h("div", { className: `toast ${kind}`, role: "status", text }));
    document.body.append(host);
    setTimeout(() => host.remove(), TOAST_MS);
}

/**
 * Whether Gmail took the email: its compose window closes (the subject field leaves the page);
 * false once ``closedByUser()`` (the user's close, not Gmail's) or after SENT_WAIT_MS.
 */
async function gmailSent(subject, closedByUser) {
    const deadline = Date.now() + SENT_WAIT_MS;
    while (Date.now() < deadline && !closedByUser()) {
        if (!subject.isConnected) {
            return true;
        }
        await new Promise((resolve) => setTimeout(resolve, 150));
    }
    return false;
}

// -- catching Send: capture-phase listeners ahead of Gmail's own ------------------------------

let releasing = false;

/** Press Gmail's Send button for real, past our own listeners. */
function releaseSend(root) {
    const button = gmail.sendButtonOf(root);
    releasing = true;
    try {
        for (const type of ["mousedown", "mouseup", "click"]) {
            button.dispatchEvent(new MouseEvent(type, { bubbles: true, cancelable: true, view: window }));
        }
    } finally {
        releasing = false;
    }
}

/** The bar of the compose window ``element`` is in: its root, or the dialog around that root. */
function barOf(element) {
    const composeWindow = gmail.composeWindowOf(element);
    for (const [root, bar] of bars) {
        if (root.contains(element) || composeWindow?.contains(root)) {
            return bar;
        }
    }
    return null;
}

function catchSend(event) {
    // only the user's own click or key: a script of Gmail's page cannot make the extension send
    // through Odoo (its synthetic events go to Gmail untouched, as without the extension)
    if (releasing || !event.isTrusted) {
        return;
    }
    if (event.type === "mousedown" && gmail.isCloseButton(event.target)) {
        barOf(event.target)?.draftClosed?.();
        return;
    }
    const keyboardSend = event.type === "keydown" && (
        (event.key === "Enter" && (event.ctrlKey || event.metaKey))
        || ((event.key === "Enter" || event.key === " ") && gmail.isSendButton(event.target)));
    if (event.type === "keydown" ? !keyboardSend : !gmail.isSendButton(event.target)) {
        return;
    }
    const bar = barOf(event.target);
    if (!bar?.wantsOdoo()) {
        return;
    }
    event.preventDefault();
    event.stopImmediatePropagation();
    if (event.type === "click" || event.type === "keydown") {
        bar.send();
    }
}

for (const type of ["mousedown", "mouseup", "click", "keydown"]) {
    window.addEventListener(type, catchSend, true);
}

// -- finding compose windows ------------------------------------------------------------------

function attachToComposeWindows() {
    for (const root of gmail.composeRoots(document)) {
        if (!bars.has(root)) {
            bars.set(root, new ComposeBar(root));
        }
    }
    for (const root of bars.keys()) {
        if (!root.isConnected) {
            bars.delete(root);
        }
    }
}

document.head.append(h("style", { text: `
.mtx-recipient-mark { display: inline-block; width: 8px; height: 8px; margin: 0 4px; vertical-align: middle; }
.mtx-toast-host { position: fixed; left: 24px; bottom: 24px; z-index: 2147483647; }` }));
let pending = false;
new MutationObserver(() => {
    if (!pending) {
        pending = true;
        setTimeout(() => {
            pending = false;
            attachToComposeWindows();
        }, 100);
    }
}).observe(document.body, { childList: true, subtree: true });
attachToComposeWindows();
