// The settings page: where Odoo is, the user's API key (checked at once), and the personal
// never-track / never-log lists, kept in Odoo (the same lists as in Odoo's Preferences).
import { normalizeUrl, originPattern } from "./api.js";
import { ask, t, translatePage } from "./runtime.js";

const $ = (id) => document.getElementById(id);

function say(element, text, kind = "info") {
    element.textContent = text;
    element.className = `status ${kind}`;
}

const lines = (text) => [...new Set(text.split(/[\s,;]+/).map((line) => line.trim()).filter(Boolean))];

async function saveConnection(event) {
    event.preventDefault();
    const status = $("connection-status");
    const { url: odooUrl, error } = normalizeUrl($("odoo-url").value);
    const apiKey = $("api-key").value.trim();
    if (error) {
        say(status, error === "not_https" ? t("optionsNotHttps") : t("optionsBadUrl"), "error");
        return;
    }
    // the browser asks the user once for this Odoo (no other site is ever reachable)
    const origins = [originPattern(odooUrl)];
    const granted = await chrome.permissions.contains({ origins }) || await chrome.permissions.request({ origins });
    if (!granted) {
        say(status, t("optionsNoPermission", odooUrl), "error");
        return;
    }
    const previous = await chrome.storage.local.get("odooUrl");
    await chrome.storage.local.set({ odooUrl, apiKey });
    if (previous.odooUrl !== odooUrl) {
        await chrome.storage.local.remove(["feedSince", "feedEntries", "feedUnseen", "feedUrl"]);
    }
    $("odoo-url").value = odooUrl;
    say(status, t("optionsTesting"));
    try {
        const me = await ask("me");
        await chrome.storage.local.set({ feedUrl: me.feed_url || "" });
        say(status, t("optionsConnected", me.user.name, me.company.name, me.odoo_version), "ok");
        await loadLists();
    } catch (error) {
        say(status, error.message, "error");
    }
}

/** The lists as Odoo has them; they cannot be edited before they are there. */
async function loadLists() {
    const status = $("lists-status");
    try {
        const lists = await ask("lists");
        $("never-track").value = lists.never_track.join("\n");
        $("never-log").value = lists.never_log.join("\n");
        say(status, "");
        for (const element of $("lists").elements) {
            element.disabled = false;
        }
    } catch (error) {
        say(status, error.message, "error");
    }
}

async function saveLists(event) {
    event.preventDefault();
    const status = $("lists-status");
    try {
        const lists = await ask("saveLists", {
            lists: { never_track: lines($("never-track").value), never_log: lines($("never-log").value) },
        });
        $("never-track").value = lists.never_track.join("\n");
        $("never-log").value = lists.never_log.join("\n");
        say(status, t("optionsListsSaved"), "ok");
    } catch (error) {
        say(status, error.message, "error");
    }
}

async function main() {
    translatePage();
    const { odooUrl = "", apiKey = "" } = await chrome.storage.local.get(["odooUrl", "apiKey"]);
    $("odoo-url").value = odooUrl;
    $("api-key").value = apiKey;
    $("connection").addEventListener("submit", saveConnection);
    $("lists").addEventListener("submit", saveLists);
    if (odooUrl && apiKey) {
        await loadLists();
    }
}

main();
