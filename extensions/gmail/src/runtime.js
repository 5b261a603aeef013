// What the content script and the extension's pages share: asking the service worker, and texts.

/** The extension's text ``key`` in the browser's language (_locales/), with ``substitutions``. */
export function t(key, ...substitutions) {
    return chrome.i18n.getMessage(key, substitutions.map(String)) || key;
}

/** Ask the service worker (background.js HANDLERS) and resolve with its data; an API error rejects. */
export async function ask(type, payload = {}) {
    let answer;
    try {
        answer = await chrome.runtime.sendMessage({ type, ...payload });
    } catch {
        // the extension was reloaded under this page: only a reload of the page reconnects it
        throw Object.assign(new Error(t("errorReloadPage")), { code: "extension_reloaded" });
    }
    if (!answer?.ok) {
        throw Object.assign(new Error(answer?.error?.message || t("errorUnknown")), { code: answer?.error?.code });
    }
    return answer.data;
}

/** Fill every ``[data-i18n]`` element of ``root`` with its text (the extension's own pages). */
export function translatePage(root = document) {
    document.documentElement.lang = chrome.i18n.getUILanguage();
    for (const element of root.querySelectorAll("[data-i18n]")) {
        element.textContent = t(element.dataset.i18n);
    }
    for (const element of root.querySelectorAll("[data-i18n-placeholder]")) {
        element.placeholder = t(element.dataset.i18nPlaceholder);
    }
}

/** ``tag`` with ``attributes`` (class, text, on* listeners, the rest as attributes) and ``children``. */
export function h(tag, attributes = {}, ...children) {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
        if (value === null || value === undefined || value === false) {
            continue;
        }
        if (name === "text") {
            element.textContent = value;
        } else if (name.startsWith("on")) {
            element.addEventListener(name.slice(2), value);
        } else {
            element.setAttribute(name === "className" ? "class" : name, value === true ? "" : value);
        }
    }
    element.append(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
    return element;
}

/** "Anna Customer opened your email" / "Someone clicked a link": a feed entry, in the browser's language. */
export function feedSentence(entry) {
    const who = entry.recipient?.name || t("feedSomeone");
    return t(`feed_${entry.kind}`, who);
}
