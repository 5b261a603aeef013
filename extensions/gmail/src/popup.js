// The toolbar popup: the activity feed of the user's tracked emails (newest first).
import { ask, feedSentence, h, t, translatePage } from "./runtime.js";

// small icons of our own, drawn (no emoji: not every system has a font for them)
const ICONS = {
    sent: '<path d="M3 6h18v12H3zM3 6l9 7 9-7" fill="none" stroke="currentColor" stroke-width="2"/>',
    opened: '<path d="M12 5C6.5 5 2.7 9.1 1.5 12c1.2 2.9 5 7 10.5 7s9.3-4.1 10.5-7C21.3 9.1 17.5 5 12 5zm0 11.5a4.5 4.5 0 1 1 0-9 4.5 4.5 0 0 1 0 9zm0-7a2.5 2.5 0 1 0 0 5 2.5 2.5 0 0 0 0-5z"/>',
    clicked: '<path d="M10.6 13.4a1 1 0 0 1 0-1.4l3.4-3.4a1 1 0 1 1 1.4 1.4L12 13.4a1 1 0 0 1-1.4 0zM7 17a3 3 0 0 1-2.1-5.1l2.5-2.5 1.4 1.4-2.5 2.5a1 1 0 0 0 1.4 1.4l2.5-2.5 1.4 1.4-2.5 2.5A3 3 0 0 1 7 17zm9.1-2.6-1.4-1.4 2.5-2.5a1 1 0 1 0-1.4-1.4l-2.5 2.5-1.4-1.4 2.5-2.5a3 3 0 0 1 4.2 4.2z"/>',
    replied: '<path d="M10 8V4l-7 7 7 7v-4c5 0 8.5 1.5 11 5-1-5-4-10-11-11z"/>',
};

function icon(kind) {
    const element = h("span", { className: "icon", "aria-hidden": "true" });
    element.innerHTML = `<svg viewBox="0 0 24 24" width="18" height="18" fill="currentColor">${ICONS[kind] || ICONS.sent}</svg>`;
    return element;
}
const relative = new Intl.RelativeTimeFormat(chrome.i18n.getUILanguage(), { numeric: "auto" });

function ago(date) {
    const seconds = (new Date(date) - Date.now()) / 1000;
    for (const [unit, size] of [["day", 86400], ["hour", 3600], ["minute", 60]]) {
        if (Math.abs(seconds) >= size) {
            return relative.format(Math.round(seconds / size), unit);
        }
    }
    return relative.format(0, "second");
}

function render(entries) {
    const list = document.getElementById("feed");
    list.replaceChildren(...entries.map((entry) => h("li", {
        className: `entry ${entry.kind}`, "data-mtx": "feed-entry", "data-kind": entry.kind,
        "data-email": entry.recipient?.email || "", title: entry.url ? t("popupOpenEntry") : null,
        onclick: () => entry.url && chrome.tabs.create({ url: entry.url }),
    },
    icon(entry.kind),
    h("div", { className: "what" },
        h("strong", { text: feedSentence(entry) }),
        h("span", { className: "subject", text: entry.subject || t("popupNoSubject") }),
        entry.kind === "clicked" && entry.link ? h("span", { className: "link-url", text: entry.link }) : null),
    h("time", { datetime: entry.date, text: ago(entry.date) }))));
    if (!entries.length) {
        list.append(h("li", { className: "empty", text: t("popupEmpty") }));
    }
}

async function main() {
    translatePage();
    document.getElementById("settings").addEventListener("click", () => chrome.runtime.openOptionsPage());
    const { feedEntries = [], odooUrl, feedUrl } = await chrome.storage.local.get(["feedEntries", "odooUrl", "feedUrl"]);
    if (odooUrl) {
        const link = document.getElementById("open-odoo");
        link.href = feedUrl || odooUrl;
        link.hidden = false;
    }
    render(feedEntries);
    const status = document.getElementById("status");
    status.textContent = t("popupLoading");
    try {
        const { entries } = await ask("feed");
        render(entries);
        status.textContent = "";
        await ask("seeFeed");
    } catch (error) {
        status.textContent = error.message;
        status.className = "status error";
    }
}

main();
