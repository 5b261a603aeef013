// The service worker: every call to Odoo goes through here (the Gmail page never sees the API key),
// and the activity feed is polled here for the popup and the desktop notifications.
import { ApiError, call } from "./api.js";
import { feedSentence } from "./runtime.js";

// chrome.alarms fires at most once a minute for a packed extension: an open or a click is
// notified within about a minute (the popup asks Odoo at once when it opens).
const FEED_ALARM = "feed";
const FEED_MINUTES = 1;
const FEED_KEPT = 50;

const HANDLERS = {
    me: () => call("GET", "me"),
    recipients: ({ query }) => call("POST", "recipients", query),
    searchRecords: ({ query }) => call("POST", "records/search", query),
    prepare: ({ send }) => call("POST", "send/prepare", send),
    confirm: ({ send }) => call("POST", "send/confirm", send),
    cancel: ({ send }) => call("POST", "send/cancel", send),
    feed: () => refreshFeed({ notify: false }),
    seeFeed: () => seeFeed(),
    lists: () => call("GET", "lists"),
    saveLists: ({ lists }) => call("PUT", "lists", lists),
};

chrome.runtime.onMessage.addListener((message, sender, reply) => {
    const handler = HANDLERS[message?.type];
    if (!handler || sender.id !== chrome.runtime.id) {
        return false;
    }
    handler(message).then(
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
    if (notify && feedSince) {
        for (const entry of fresh.filter((candidate) => candidate.kind !== "sent").slice(0, 5)) {
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
    const { feedEntries = [] } = await chrome.storage.local.get("feedEntries");
    const entry = feedEntries.find((candidate) => `feed-${candidate.id}` === id);
    if (entry?.url) {
        chrome.tabs.create({ url: entry.url });
    }
    chrome.notifications.clear(id);
});
