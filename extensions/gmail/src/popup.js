// The toolbar popup: the activity feed of the user's tracked emails (newest first).
import { ask, feedSentence, h, t, translatePage } from "./runtime.js";

const ICONS = { sent: "✉", opened: "👁", clicked: "🔗", replied: "↩" };
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
    h("span", { className: "icon", "aria-hidden": "true", text: ICONS[entry.kind] || "•" }),
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
