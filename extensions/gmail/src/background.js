// The service worker: every call to Odoo goes through here (the Gmail page never sees the API key),
// and the activity feed is polled here for the popup and the desktop notifications.
import { ApiError, call } from "./api.js";
import { feedSentence } from "./runtime.js";

// chrome.alarms fires at most once a minute for a packed extension: an open or a click is
// notified within about a minute (the popup asks Odoo at once when it opens).
const FEED_ALARM = "feed";
const FEED_MINUTES = 1;
const FEED_KEPT = 50;
const SUMMARY_NOTIFICATION = "feed-summary";

const GMAIL_ORIGIN = "https://mail.google.com";

// who may ask what: "gmail", the content script in a Gmail tab; "page", the extension's own pages
// (popup, settings). The content script runs inside a page the extension does not control.
const HANDLERS = {
    me: { from: ["gmail", "page"], run: () => call("GET", "me") },
    recipients: { from: ["gmail"], run: ({ query }) => call("POST", "recipients", query) },
    searchRecords: { from: ["gmail"], run: ({ query }) => call("POST", "records/search", query) },
    prepare: { from: ["gmail"], run: ({ send }) => call("POST", "send/prepare", send) },
    confirm: { from: ["gmail"], run: ({ send }) => call("POST", "send/confirm", send) },
    cancel: { from: ["gmail"], run: ({ send }) => call("POST", "send/cancel", send) },
    feed: { from: ["page"], run: () => refreshFeed({ notify: false }) },
    seeFeed: { from: ["page"], run: () => seeFeed() },
    lists: { from: ["page"], run: () => call("GET", "lists") },
    saveLists: { from: ["page"], run: ({ lists }) => call("PUT", "lists", lists) },
};

/** "page" for the extension's own pages, "gmail" for the content script in a Gmail tab, else null. */
function senderKind(sender) {
    if (sender.id !== chrome.runtime.id) {
        return null;
    }
    if (sender.url?.startsWith(chrome.runtime.getURL(""))) { // the settings page opens in a tab
        return "page";
    }
    const origin = sender.origin || (sender.url ? new URL(sender.url).origin : "");
    return sender.tab && origin === GMAIL_ORIGIN ? "gmail" : null;
}

chrome.runtime.onMessage.addListener((message, sender, reply) => {
    const handler = HANDLERS[message?.type];
    if (!handler || !handler.from.includes(senderKind(sender))) {
        return false;
    }
    handler.run(message).then(
        (data) => reply({ ok: true, data }),
        (error) => reply({ ok: false, error: { code: error.code || "error", message: error.message } }),
    );
    return true; // the answer comes later
});

function scheduleFeed() {
    chrome.alarms.create(FEED_ALARM, { periodInMinutes: FEED_MINUTES });
}
chrome.runtime.onInstalled.addListener(scheduleFeed);
chrome.runtime.onStartup.addListener(scheduleFeed);
chrome.alarms.onAlarm.addListener((alarm) => {
    if (alarm.name === FEED_ALARM) {
        refreshFeed({ notify: true }).catch((error) => {
            if (!(error instanceof ApiError)) {
                throw error;
            }
        });
    }
});

/**
 * Ask Odoo for the engagement since the last time (``next_since`` overlaps the previous poll by a
 * little, for events committed late: entries already kept are skipped by id); keep the newest entries for the popup and,
 * with ``notify``, show a desktop notification for each new one. The first poll after the
 * extension is set up only remembers where the feed is: no burst of old news.
 */
async function refreshFeed({ notify }) {
    const { feedSince, feedEntries = [], feedUnseen = 0 } = await chrome.storage.local.get(
        ["feedSince", "feedEntries", "feedUnseen"]);
    const answer = await call("GET", "feed" + (feedSince ? `?since=${encodeURIComponent(feedSince)}` : ""));
    const known = new Set(feedEntries.map((entry) => entry.id));
    const fresh = (answer.entries || []).filter((entry) => !known.has(entry.id));
    const entries = [...fresh, ...feedEntries]
        .sort((a, b) => String(b.date).localeCompare(String(a.date)))
        .slice(0, FEED_KEPT);
    const unseen = notify && feedSince ? feedUnseen + fresh.length : feedUnseen;
    await chrome.storage.local.set({ feedSince: answer.next_since || answer.now || feedSince || "", feedEntries: entries, feedUnseen: unseen });
    const news = fresh.filter((candidate) => candidate.kind !== "sent");
    if (notify && feedSince && answer.has_more) {
        // more happened than one answer holds: one note that sends the user to the feed, rather
        // than a few notes that look like everything
        chrome.notifications.create(SUMMARY_NOTIFICATION, {
            type: "basic",
            iconUrl: "icons/icon128.png",
            title: chrome.i18n.getMessage("feedSummary", [String(news.length)]),
            message: chrome.i18n.getMessage("feedSummaryOpen"),
        });
    } else if (notify && feedSince) {
        for (const entry of news.slice(0, 5)) {
            chrome.notifications.create(`feed-${entry.id}`, {
                type: "basic",
                iconUrl: "icons/icon128.png",
                title: feedSentence(entry),
                message: entry.subject || "",
                contextMessage: entry.link || "",
            });
        }
    }
    await showUnseen(unseen);
    return { entries, unseen };
}

async function seeFeed() {
    await chrome.storage.local.set({ feedUnseen: 0 });
    await showUnseen(0);
}

async function showUnseen(count) {
    await chrome.action.setBadgeBackgroundColor({ color: "#017e84" });
    await chrome.action.setBadgeText({ text: count ? String(Math.min(count, 99)) : "" });
}

chrome.notifications?.onClicked.addListener(async (id) => {
    if (id === SUMMARY_NOTIFICATION) {
        // the feed is the popup (openPopup needs a focused window; Odoo's feed page otherwise)
        const { feedUrl } = await chrome.storage.local.get("feedUrl");
        try {
            await chrome.action.openPopup();
        } catch {
            if (feedUrl) {
                chrome.tabs.create({ url: feedUrl });
            }
        }
        chrome.notifications.clear(id);
        return;
    }
    const { feedEntries = [] } = await chrome.storage.local.get("feedEntries");
    const entry = feedEntries.find((candidate) => `feed-${candidate.id}` === id);
    if (entry?.url) {
        chrome.tabs.create({ url: entry.url });
    }
    chrome.notifications.clear(id);
});
