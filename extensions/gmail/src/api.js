// The Odoo API client of the service worker, the only code that talks to Odoo. The address of
// Odoo and the user's API key are kept in chrome.storage.local (never a password); every request
// carries the key as a Bearer token and no cookie.

export const API_PATH = "/email-tracking/api/1/";

export class ApiError extends Error {
    constructor(code, message, status = 0) {
        super(message);
        this.code = code;
        this.status = status;
    }
}

/** ``{odooUrl, apiKey}`` as saved on the options page. */
export async function connection() {
    const { odooUrl = "", apiKey = "" } = await chrome.storage.local.get(["odooUrl", "apiKey"]);
    return { odooUrl, apiKey };
}

// the API key travels in every request: in clear text only to this machine itself
const LOCAL_HOSTS = ["localhost", "127.0.0.1", "[::1]"];

/**
 * "https://odoo.example.com/" -> ``{url: "https://odoo.example.com"}``; ``{error: "not_https"}``
 * for http: to another machine, ``{error: "bad_url"}`` for anything else.
 */
export function normalizeUrl(text) {
    let url;
    try {
        url = new URL(text.trim());
    } catch {
        return { error: "bad_url" };
    }
    if (url.protocol === "http:" && !LOCAL_HOSTS.includes(url.hostname)) {
        return { error: "not_https" };
    }
    if (!["http:", "https:"].includes(url.protocol)) {
        return { error: "bad_url" };
    }
    return { url: url.origin + url.pathname.replace(/\/+$/, "") };
}

/** The host permission the extension asks for to reach ``odooUrl`` (optional_host_permissions). */
export function originPattern(odooUrl) {
    const url = new URL(odooUrl);
    return `${url.protocol}//${url.hostname}/*`;
}

/**
 * Call ``method path`` of the API with a JSON ``body``; resolves with the answer's JSON, rejects
 * with an ApiError carrying the API's own code and message (in the user's language in Odoo).
 */
export async function call(method, path, body = undefined) {
    const { odooUrl, apiKey } = await connection();
    if (!odooUrl || !apiKey) {
        throw new ApiError("not_configured", chrome.i18n.getMessage("errorNotConfigured"));
    }
    // the saved address is checked again before the key leaves: storage may hold an older value
    const { error: urlError } = normalizeUrl(odooUrl);
    if (urlError) {
        throw new ApiError(urlError, chrome.i18n.getMessage(urlError === "not_https" ? "optionsNotHttps" : "optionsBadUrl"));
    }
    let response;
    try {
        response = await fetch(odooUrl + API_PATH + path, {
            method,
            headers: {
                Authorization: `Bearer ${apiKey}`,
                Accept: "application/json",
                ...(body === undefined ? {} : { "Content-Type": "application/json" }),
            },
            body: body === undefined ? undefined : JSON.stringify(body),
            credentials: "omit",
            cache: "no-store",
            // a redirect would carry the key on to another address (perhaps plain http): refused
            redirect: "error",
        });
    } catch {
        throw new ApiError("unreachable", chrome.i18n.getMessage("errorUnreachable", [odooUrl]));
    }
    const answer = await response.json().catch(() => null);
    if (!response.ok) {
        const error = answer?.error || {};
        const fallback = response.status === 401
            ? chrome.i18n.getMessage("errorUnauthorized")
            : chrome.i18n.getMessage("errorHttp", [String(response.status)]);
        throw new ApiError(error.code || `http_${response.status}`, error.message || fallback, response.status);
    }
    if (answer === null) {
        throw new ApiError("not_json", chrome.i18n.getMessage("errorNotOdoo", [odooUrl]), response.status);
    }
    return answer;
}
