"""End to end: the Gmail extension (extensions/gmail/, E6) loaded into Debian's Chromium, against a
running Odoo and a real SMTP server (issue 17).

What is real: the extension as ``make extension`` builds it (build/chrome, loaded with
``--load-extension`` into headless Chromium), its service worker calling Odoo's API over HTTP with
the salesperson's API key (made as a user makes it in Preferences, password check included), Odoo
itself, SMTP delivery to the mail catcher, the recipient's mail client loading the pixel and
following a link of the delivered email, and Odoo's own full composer in the same browser.

What stands in for something else (Gmail cannot be reached from CI):

* Gmail's page: ``tests/gmail_fixture/mail.html`` reproduces the parts of Gmail's compose window
  the extension touches (extensions/gmail/src/gmail_dom.js: subject box, body, recipient chips,
  Send button). It is served at https://mail.google.com/ by a local server of this test: Chromium
  maps that name to 127.0.0.1 (``--host-resolver-rules``) and accepts the test's self-signed
  certificate, so the extension's own content-script match (``https://mail.google.com/*``) is what
  injects it. Every other name resolves nowhere: nothing leaves the machine.
* Gmail's servers: the fixture's Send posts what Gmail would send (one message to all recipients,
  Bcc off the headers) to the same local server, which delivers it over SMTP to the catcher.
* The browser's permission prompt for the Odoo address (optional_host_permissions, asked when the
  user saves the settings) cannot be answered by automation: the test loads a copy of build/chrome
  whose manifest grants the test Odoo's origin (``http://127.0.0.1/*``) at install, as the user's
  "Allow" would. Nothing else differs from the built extension.

The extension keeps what Odoo says inside closed shadow roots, which Gmail's page cannot open; the
test reads them as the browser's developer tools do (DOM.describeNode pierces them; ShadowView),
and clicks in them with the real mouse.

npm or Playwright missing fails the test (bootstrap installs both); MTX_GMAIL_ALLOW_SKIP=1 turns
that into a skip on a machine knowingly without them.
"""
import datetime
import ipaddress
import json
import os
import re
import shutil
import smtplib
import ssl
import subprocess
import tempfile
import threading
import time
import uuid
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from devtools import odoo_runtime as rt

from e2e_crm import PIXEL, delivered_ago, html_part, to_of, tracking_of, visible_links

HERE = os.path.dirname(os.path.abspath(__file__))
EXTENSION = os.path.join(rt.REPO_ROOT, "extensions", "gmail")
FIXTURE = os.path.join(HERE, "gmail_fixture", "mail.html")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
GMAIL = "https://mail.google.com/mail/u/0/"
# pictures for review: MTX_GMAIL_SCREENSHOTS=extensions/gmail/screenshots to refresh the README's
SCREENSHOTS = os.environ.get("MTX_GMAIL_SCREENSHOTS") or os.path.join(rt.REPO_ROOT, ".screenshots", "gmail")
OFFER_URL = "https://shop.example/offerta?q=gmail"
REFUSED = "[Gmail refuses]"
BODY = f'<div>Buongiorno Anna,</div><div>ecco la <a href="{OFFER_URL}">nostra offerta</a>.</div>'


def missing(what):
    """A tool bootstrap installs is missing: a failure, unless MTX_GMAIL_ALLOW_SKIP=1 says so."""
    if os.environ.get("MTX_GMAIL_ALLOW_SKIP") == "1":
        pytest.skip(what)
    pytest.fail(f"{what}; make bootstrap installs it (MTX_GMAIL_ALLOW_SKIP=1 skips instead)")


# -- Gmail's stand-ins ---------------------------------------------------------------------------

def self_signed_certificate(folder):
    """A certificate for mail.google.com that only this test's browser accepts."""
    from cryptography import x509  # noqa: PLC0415 - Odoo's own requirement, only this test needs it
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
    from cryptography.x509.oid import NameOID  # noqa: PLC0415

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mail.google.com")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName("mail.google.com"),
                                                               x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                                  critical=False)
                   .sign(key, hashes.SHA256()))
    cert_path, key_path = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
    with open(cert_path, "wb") as fh:
        fh.write(certificate.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as fh:
        fh.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))
    return cert_path, key_path


class GmailStandIn:
    """The fixture page at https://mail.google.com/ and Gmail's sending: one SMTP message to all
    the recipients, as Gmail sends it, to the mail catcher."""

    def __init__(self, smtp_port, folder):
        self.smtp_port = smtp_port
        self.sent = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                with open(FIXTURE, "rb") as fh:
                    self.answer(200, fh.read(), "text/html; charset=utf-8")

            def do_POST(self):  # noqa: N802
                email = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if REFUSED in email["subject"]:  # Gmail refuses to send, its window stays open
                    self.answer(400, b"refused", "text/plain")
                    return
                try:
                    message_id = stand_in.deliver(email)
                except (smtplib.SMTPException, OSError) as exc:
                    self.answer(502, str(exc).encode(), "text/plain")
                    return
                self.answer(200, json.dumps({"message_id": message_id}).encode(), "application/json")

            def answer(self, status, body, content_type):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*self_signed_certificate(folder))
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def deliver(self, email):
        message = EmailMessage()
        message["From"] = formataddr(("Sales", email["from"]))
        message["To"] = ", ".join(email["to"])
        if email["cc"]:
            message["Cc"] = ", ".join(email["cc"])
        message["Subject"] = email["subject"]
        message["Message-ID"] = make_msgid(domain="mail.gmail.com")
        message.set_content("(HTML email)")
        message.add_alternative(email["html"], subtype="html")
        with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=30) as smtp:
            smtp.send_message(message, to_addrs=email["to"] + email["cc"] + email["bcc"])
        self.sent.append(email)
        return message["Message-ID"]

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# -- the salesperson's API key, as Preferences makes it ------------------------------------------

def api_key_of(salesperson, password):
    """Preferences › Account Security › New API Key, over the salesperson's own web session:
    Odoo asks for the password again before it shows the key."""
    def call(model, method, *args, **kwargs):
        answer = salesperson.session.post(f"{salesperson.server.url}/web/dataset/call_kw", json={"params": {
            "model": model, "method": method, "args": list(args), "kwargs": kwargs}}, timeout=30).json()
        assert "error" not in answer, answer
        return answer["result"]

    description = call("res.users.apikeys.description", "create", {"name": "Gmail"})
    check = call("res.users.apikeys.description", "make_key", [description])["res_id"]
    if rt.ODOO_MAJOR >= 19:  # 19.0's identity check reads the password from the context, 18.0's from its field
        shown = call("res.users.identitycheck", "run_check", [check], context={"password": password})
    else:
        call("res.users.identitycheck", "write", [check], {"password": password})
        shown = call("res.users.identitycheck", "run_check", [check])
    return shown["context"]["default_key"]


# -- the browser ---------------------------------------------------------------------------------

def built_extension(folder):
    """A copy of build/chrome, built now from the sources (esbuild takes a fraction of a second),
    granted the test Odoo's origin as the user's "Allow" would (see the module's docstring)."""
    if not shutil.which("npm"):
        missing("npm is missing (make bootstrap installs Debian's nodejs npm)")
    if not os.path.isdir(os.path.join(EXTENSION, "node_modules")):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=EXTENSION, check=True)
    subprocess.run(["npm", "run", "--silent", "build"], cwd=EXTENSION, check=True, stdout=subprocess.DEVNULL)
    build = os.path.join(EXTENSION, "build", "chrome")
    copy = os.path.join(folder, "extension")
    shutil.copytree(build, copy)
    with open(os.path.join(copy, "manifest.json"), encoding="utf-8") as fh:
        manifest = json.load(fh)
    manifest["host_permissions"] = ["http://127.0.0.1/*"]
    with open(os.path.join(copy, "manifest.json"), "w", encoding="utf-8") as fh:
        json.dump(manifest, fh)
    return copy


@pytest.fixture(scope="module")
def gmail(odoo_server, mail_catcher, crm):
    """Chromium with the extension, set up by the salesperson with their API key on its settings page;
    ``{context, extension_id, stand_in, service_worker, ...}``."""
    try:
        from playwright.sync_api import sync_playwright  # noqa: PLC0415 - only this test needs it
    except ImportError:
        missing("Playwright is missing")
    folder = tempfile.mkdtemp(prefix="mtx-gmail-")
    stand_in = GmailStandIn(mail_catcher.smtp_port, folder)
    extension = built_extension(folder)
    playwright = sync_playwright().start()
    context = playwright.chromium.launch_persistent_context(
        os.path.join(folder, "profile"), executable_path=CHROMIUM, headless=False, ignore_https_errors=True,
        # the extension speaks the browser's language, which Chromium takes from LANGUAGE on Linux
        env={**os.environ, "LANGUAGE": "en_US"}, locale="en-US", viewport={"width": 1280, "height": 860},
        args=["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
              "--disable-background-networking", "--disable-component-update", "--lang=en-US",
              f"--disable-extensions-except={extension}", f"--load-extension={extension}",
              f"--host-resolver-rules=MAP mail.google.com 127.0.0.1:{stand_in.port}, MAP * ~NOTFOUND, "
              "EXCLUDE 127.0.0.1, EXCLUDE localhost"])
    try:
        worker = context.service_workers[0] if context.service_workers else \
            context.wait_for_event("serviceworker", timeout=30000)
        extension_id = worker.url.split("/")[2]
        password = f"{crm['sales_login']}-pw"
        key = api_key_of(crm["sales"], password)
        options = context.new_page()
        options.goto(f"chrome-extension://{extension_id}/options.html")
        options.fill("#odoo-url", odoo_server.url + "/")
        options.fill("#api-key", key)
        options.click("button[type=submit] >> nth=0")
        options.wait_for_selector("[data-mtx=connection-status].ok", timeout=30000)
        yield {"context": context, "extension_id": extension_id, "stand_in": stand_in, "worker": worker,
               "options": options, "key": key, "password": password}
    finally:
        context.close()
        playwright.stop()
        stand_in.stop()
        shutil.rmtree(folder, ignore_errors=True)


def shot(page, name, locator=None):
    os.makedirs(SCREENSHOTS, exist_ok=True)
    page.wait_for_timeout(300)
    (locator or page).screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"))


def compose(page, to=(), cc=(), subject="", body=BODY):
    """Open Gmail's compose window and write as a user does: addresses typed into To/Cc (Enter
    makes the chip), the subject, the body (set as Gmail's editor holds it)."""
    page.click("#compose")
    dialog = page.locator("[role=dialog]").last
    for field, addresses in (("to", to), ("cc", cc)):
        for address in addresses:
            dialog.locator(f"[name={field}] input").fill(address)
            dialog.locator(f"[name={field}] input").press("Enter")
    dialog.locator("input[name=subjectbox]").fill(subject)
    dialog.locator("[g_editable]").evaluate("(body, html) => { body.innerHTML = html; }", body)
    return dialog


class ShadowView:
    """The inside of the extension's closed shadow root under the last ``host`` of ``page``, read
    over the DevTools protocol (Playwright's selectors stop at closed roots, as Gmail's page does)."""

    def __init__(self, page, host):
        self.page, self.host = page, host
        self.cdp = page.context.new_cdp_session(page)

    def eval(self, function, arg=None):
        """``function(shadowRoot, arg)``'s value; None when the host is not on the page."""
        found = self.cdp.send("Runtime.evaluate", {
            "expression": f"[...document.querySelectorAll({json.dumps(self.host)})].pop() || null"})
        if found["result"].get("subtype") == "null":
            return None
        node = self.cdp.send("DOM.describeNode", {"objectId": found["result"]["objectId"], "depth": 1, "pierce": True})
        [root] = node["node"]["shadowRoots"]
        handle = self.cdp.send("DOM.resolveNode", {"backendNodeId": root["backendNodeId"]})
        answer = self.cdp.send("Runtime.callFunctionOn", {
            "objectId": handle["object"]["objectId"],
            "functionDeclaration": f"function (arg) {{ return ({function})(this, arg); }}",
            "arguments": [{"value": arg}], "returnByValue": True, "awaitPromise": True})
        assert "exceptionDetails" not in answer, answer
        return answer["result"].get("value")

    def locator(self, selector, nth=None):
        return ShadowPart(self, selector, nth)

    def count(self):
        return 0 if self.eval("() => 1") is None else 1


class ShadowPart:
    """Elements matching ``selector`` in a ShadowView (the ``nth`` one, or the first)."""

    def __init__(self, view, selector, nth=None):
        self.view, self.selector, self.nth = view, selector, nth

    @property
    def first(self):
        return ShadowPart(self.view, self.selector, 0)

    def _read(self, what):
        return self.view.eval(f"""(root, [selector, nth]) => {{
            const all = root.querySelectorAll(selector);
            const element = all[nth || 0];
            return ({what});
        }}""", [self.selector, self.nth])

    def count(self):
        return self._read("all.length") or 0

    def all(self):
        return [ShadowPart(self.view, self.selector, index) for index in range(self.count())]

    def inner_text(self):
        return self._read("element.innerText")

    def get_attribute(self, name):
        return self._read(f"element.getAttribute({json.dumps(name)})")

    def is_checked(self):
        return self._read("element.checked")

    def is_disabled(self):
        return self._read("element.disabled")

    def wait_for(self, timeout=30000):
        deadline = time.monotonic() + timeout / 1000
        while not (self.view.eval("() => 1") is not None and self.count()):
            assert time.monotonic() < deadline, f"{self.selector} did not show in {self.view.host}"
            time.sleep(0.2)

    def click(self):
        """The user's click: the real mouse at the element's middle."""
        box = self._read("(element.scrollIntoView({block: 'center'}), (({x, y, width, height}) => "
                         "({x: x + width / 2, y: y + height / 2}))(element.getBoundingClientRect()))")
        self.view.page.mouse.click(box["x"], box["y"])


def bar_of(dialog):
    """The extension's bar in the (last) compose window of the page."""
    return ShadowView(dialog.page, "[data-mtx=compose-bar]")


def mark_of(page, email):
    """The contact marker on ``email``'s chip: a dot whose title is in its closed shadow root."""
    return ShadowView(page, f"[data-hovercard-id='{email}'] [data-mtx=recipient-mark]").locator(".dot")


def toast_of(page):
    return ShadowView(page, "[data-mtx=toast]").locator(".toast")


def wait_for_lookup(bar, expected_records=None):
    """Until the bar shows what Odoo said about the recipients (the mode sentence or a reason)."""
    try:
        bar.locator("[data-mtx=tracking-mode], [data-mtx=track-reason], [data-mtx=untracked-notice]") \
            .wait_for(timeout=30000)
        if expected_records is not None:
            deadline = time.monotonic() + 30
            while bar.locator("[data-mtx=record]").count() != expected_records:
                assert time.monotonic() < deadline, "not the expected records"
                time.sleep(0.2)
    except Exception as exc:  # the bar says why (an API error in its status line)
        shown = bar.eval("root => root.querySelector('.bar').innerText")
        raise AssertionError(f"the compose bar shows: {shown!r}") from exc


def rpc_as(server, crm, model, method, *args, **kwargs):
    return server.rpc(model, method, *args, login=crm["sales_login"], password=f"{crm['sales_login']}-pw", **kwargs)


@pytest.fixture(scope="module")
def customers(odoo_server, crm):
    """Anna's company with an open opportunity of the salesperson on it: what Log pre-selects (L2)."""
    suffix = crm["suffix"]
    company = odoo_server.rpc("res.partner", "create", {"name": f"Customer {suffix}", "is_company": True})
    odoo_server.rpc("res.partner", "write", [crm["anna"]], {"parent_id": company})
    odoo_server.rpc("crm.lead", "write", [crm["lead"]], {"partner_id": company})
    return {"company": company, "anna_email": f"anna{suffix}@customer.example",
            "bruno_email": f"bruno{suffix}@customer.example"}


# -- the tests -----------------------------------------------------------------------------------

def test_e6_track_and_log_from_gmail_compose_to_engagement_in_odoo_and_the_feed(
        odoo_server, mail_catcher, crm, customers, gmail):
    """E6 with T1, T2, L2: in Gmail's compose window Track and Log start on (the salesperson's
    defaults), Anna is marked as a contact, her contact, company and opportunity are pre-selected;
    Send gives Gmail the body Odoo tracked for her alone; the email is logged on her contact and the
    opportunity; the user's own view of the sent email records nothing; the pixel and a link of the
    caught email make her "opened" then "clicked" in Odoo, in the popup's feed and in a notification."""
    context, extension_id = gmail["context"], gmail["extension_id"]
    shot(gmail["options"], "options")
    subject = f"Offerta {uuid.uuid4().hex[:6]}"
    mail_catcher.clear()
    page = context.new_page()
    page.goto(GMAIL)
    dialog = compose(page, to=[customers["anna_email"]], subject=subject)
    bar = bar_of(dialog)
    wait_for_lookup(bar, expected_records=3)
    assert bar.locator("[data-mtx=switch-track]").is_checked()
    assert bar.locator("[data-mtx=switch-log]").is_checked()
    assert bar.locator("[data-mtx=tracking-mode]").get_attribute("data-mode") == "personal"
    assert "Anna" in bar.locator("[data-mtx=tracking-mode]").inner_text()
    assert "Anna" in mark_of(page, customers["anna_email"]).get_attribute("title")
    records = {(r.get_attribute("data-model"), int(r.get_attribute("data-id")))
               for r in bar.locator("[data-mtx=record]").all()}
    assert records == {("res.partner", crm["anna"]), ("res.partner", customers["company"]),
                       ("crm.lead", crm["lead"])}
    # Log on the contact and the opportunity only: the company is taken off in the picker
    bar.locator(f"[data-mtx=record][data-id='{customers['company']}'][data-model='res.partner'] button").click()
    assert bar.locator("[data-mtx=record]").count() == 2
    shot(page, "compose", dialog)

    dialog.locator(".aoO").click()
    toast = toast_of(page)
    toast.wait_for(timeout=30000)
    assert "Logged on" in toast.inner_text(), toast.inner_text()
    [delivered] = mail_catcher.wait_for(1)
    assert to_of(delivered) == customers["anna_email"]
    body = html_part(delivered)
    pixel = PIXEL.search(body)
    assert pixel, body
    links = visible_links(body)
    assert links and {token for _url, token, _ref in links} == {pixel.group(2)}, "her own token everywhere"
    assert OFFER_URL not in body, "the original URL stays on the server"

    [message] = rpc_as(odoo_server, crm, "mail.message", "search_read", [("subject", "=", subject)],
                       ["model", "res_id", "log_email"])
    # on the first record's timeline, associated with the others (L2)
    logged_on = {(message["model"], message["res_id"])} | {(a["model"], a["res_id"]) for a in rpc_as(
        odoo_server, crm, "mail.message.association", "search_read", [("message_id", "=", message["id"])],
        ["model", "res_id"])}
    assert logged_on == {("res.partner", crm["anna"]), ("crm.lead", crm["lead"])}
    [tracked] = tracking_of(odoo_server, message["id"])
    assert (tracked["partner_id"][0], tracked["state"]) == (crm["anna"], "sent")

    # the salesperson looks at the sent email in Gmail: the extension keeps that from counting
    popup = context.new_page()
    popup.goto(f"chrome-extension://{extension_id}/popup.html")
    popup.locator("[data-mtx=feed-entry]").first.wait_for(timeout=20000)  # also: the feed's starting point
    blocked = []
    page.on("requestfailed", lambda request: blocked.append((request.url, request.failure)))
    page.click("#show-sent")
    page.wait_for_selector("#sent-view a")
    page.wait_for_timeout(1500)
    assert (pixel.group(1), "net::ERR_BLOCKED_BY_CLIENT") in blocked, blocked
    assert tracking_of(odoo_server, message["id"])[0]["state"] == "sent", "the user's own view is no open"

    # Anna's mail client loads the pixel, later she clicks the link
    assert requests.get(pixel.group(1), timeout=10).status_code == 200
    assert tracking_of(odoo_server, message["id"])[0]["state"] == "opened"
    delivered_ago(odoo_server.db, message["id"])
    response = requests.get(links[0][0], allow_redirects=False, timeout=10)
    assert (response.status_code, response.headers["Location"]) == (302, OFFER_URL)
    assert tracking_of(odoo_server, message["id"])[0]["state"] == "clicked"

    # the next poll of the service worker notifies; the popup shows the feed
    gmail["worker"].evaluate("chrome.alarms.create('feed', {when: Date.now() + 100, periodInMinutes: 1})")
    notifications = {}
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and len(notifications) < 2:
        time.sleep(1)
        notifications = gmail["worker"].evaluate(
            "new Promise((resolve) => chrome.notifications.getAll(resolve))")
    assert len(notifications) >= 2, notifications
    popup.reload()
    entries = popup.locator(f"[data-mtx=feed-entry][data-email='{customers['anna_email']}']")
    popup.wait_for_function(
        "() => [...document.querySelectorAll('[data-mtx=feed-entry]')].some(e => e.dataset.kind === 'clicked')",
        timeout=20000)
    kinds = [entry.get_attribute("data-kind") for entry in entries.all()]
    assert "opened" in kinds and "clicked" in kinds, kinds
    texts = popup.locator("[data-mtx=feed]").inner_text()
    assert "opened your email" in texts and "clicked a link" in texts and subject in texts
    shot(popup, "popup", popup.locator("body"))
    page.close()
    popup.close()


def test_t7_one_email_to_several_recipients_gets_the_shared_pixel_and_the_bar_says_so(
        odoo_server, mail_catcher, crm, customers, gmail):
    """T7: Gmail sends one message to all its recipients; with two, the bar says before Send that
    they share one anonymous pixel, and so it goes (sent with Ctrl+Enter): one SMTP message, one
    token, nobody named."""
    subject = f"Preventivo {uuid.uuid4().hex[:6]}"
    mail_catcher.clear()
    page = gmail["context"].new_page()
    page.goto(GMAIL)
    dialog = compose(page, to=[customers["anna_email"]], cc=[customers["bruno_email"]], subject=subject)
    bar = bar_of(dialog)
    wait_for_lookup(bar)
    mode = bar.locator("[data-mtx=tracking-mode]")
    assert mode.get_attribute("data-mode") == "shared"
    said = mode.inner_text()
    shot(page, "compose-shared", dialog)
    dialog.locator("[g_editable]").press("Control+Enter")  # Gmail's keyboard Send goes through Odoo too
    toast_of(page).wait_for(timeout=30000)
    [delivered] = mail_catcher.wait_for(1)
    envelope = sorted(delivered["X-Envelope-To"].split(", "))
    assert envelope == sorted([customers["anna_email"], customers["bruno_email"]]), "one message for both"
    body = html_part(delivered)
    tokens = {PIXEL.search(body).group(2)} | {token for _url, token, _ref in visible_links(body)}
    assert len(tokens) == 1
    [message] = rpc_as(odoo_server, crm, "mail.message", "search_read", [("subject", "=", subject)], ["id"])
    [tracked] = tracking_of(odoo_server, message["id"])
    assert tracked["partner_id"] is False, "shared: nobody is named"
    assert "Anna" not in said and said, said
    page.close()


def test_p2_disabled_switch_reason_is_the_odoo_composers(odoo_server, crm, customers, gmail):
    """P2 (and T10 through the settings page): for the same recipients, the reason the extension
    gives for Track is the very sentence Odoo's full composer shows, read from both in one browser;
    the personal never-track list saved on the settings page is the one Odoo keeps."""
    odoo_server.rpc("res.partner", "write", [crm["anna"]], {"do_not_track": True})
    context = gmail["context"]
    try:
        odoo = context.new_page()
        odoo.goto(f"{odoo_server.url}/web/login")
        odoo.fill("input[name=login]", crm["sales_login"])
        odoo.fill("input[name=password]", gmail["password"])
        odoo.click("button[type=submit]")
        odoo.wait_for_url("**/odoo**", timeout=30000)
        odoo.wait_for_function("() => window.odoo?.__WOWL_DEBUG__?.root?.env?.services?.action", timeout=30000)

        def composer_notice(partner_ids):
            # the full composer, as the chatter's "open full composer" opens it (not awaited: its
            # promise lasts as long as the dialog)
            odoo.evaluate("""([lead, partners]) => { odoo.__WOWL_DEBUG__.root.env.services.action.doAction({
                type: 'ir.actions.act_window', res_model: 'mail.compose.message', views: [[false, 'form']],
                target: 'new', context: {default_model: 'crm.lead', default_res_ids: [lead],
                default_composition_mode: 'comment', default_partner_ids: partners}}); }""",
                          [crm["lead"], partner_ids])
            notice = odoo.locator(".modal [name=mail_tracking_notice]")
            notice.wait_for(timeout=30000)
            text = notice.inner_text().strip()
            odoo.locator(".modal .btn-close, .modal button:has-text('Discard')").first.click()
            odoo.locator(".modal").wait_for(state="detached", timeout=10000)
            return text

        def extension_texts(addresses):
            """(page, compose window, Track's reason, the untracked notice, Track disabled) in the extension."""
            page = context.new_page()
            page.goto(GMAIL)
            dialog = compose(page, to=addresses, subject="Reason")
            bar = bar_of(dialog)
            wait_for_lookup(bar)
            texts = [bar.locator(f"[data-mtx={name}]") for name in ("track-reason", "untracked-notice")]
            reason, notice = (text.inner_text().strip() if text.count() else None for text in texts)
            return page, dialog, reason, notice, bar.locator("[data-mtx=switch-track]").is_disabled()

        alone = composer_notice([crm["anna"]])
        page, dialog, reason, notice, disabled = extension_texts([customers["anna_email"]])
        assert "Anna" in alone and reason == alone and notice is None
        assert disabled, "nobody can be tracked: Track is off, with the composer's reason"
        shot(page, "compose-reason", dialog)
        page.close()

        # the composer would track Bruno alone; Gmail sends one message to both: Track is off, with
        # the reason, and who is not tracked is said in the composer's words
        together = composer_notice([crm["anna"], crm["bruno"]])
        page, dialog, reason, notice, disabled = extension_texts([customers["anna_email"], customers["bruno_email"]])
        assert notice == together and "Bruno" not in together
        assert disabled and reason and reason != together, reason
        shot(page, "compose-reason-two", dialog)
        page.close()
        odoo.close()
    finally:
        odoo_server.rpc("res.partner", "write", [crm["anna"]], {"do_not_track": False})

    options = gmail["options"]
    options.reload()
    options.fill("#never-track", "competitor.example\nBRUNO@Elsewhere.example")
    options.click("#lists button[type=submit]")
    options.wait_for_selector("[data-mtx=lists-status].ok", timeout=20000)
    assert sorted(options.input_value("#never-track").split("\n")) == ["bruno@elsewhere.example", "competitor.example"]
    answer = requests.get(f"{odoo_server.url}/email-tracking/api/1/lists", timeout=10,
                          headers={"Authorization": f"Bearer {gmail['key']}"}).json()
    assert sorted(answer["never_track"]) == ["bruno@elsewhere.example", "competitor.example"]
    # T10: the list applies at once in Gmail's compose window, with Odoo's reason
    page = context.new_page()
    page.goto(GMAIL)
    bar = bar_of(compose(page, to=["sales@competitor.example"], subject="Never tracked"))
    wait_for_lookup(bar)
    assert bar.locator("[data-mtx=switch-track]").is_disabled()
    assert bar.locator("[data-mtx=track-reason]").inner_text().strip()
    page.close()


def test_r_api_key_is_kept_only_in_the_extension_and_sent_only_to_odoo(odoo_server, gmail):
    """The key lives in chrome.storage.local of the extension (never in Gmail's page), and a wrong
    key is refused with Odoo's own sentence on the settings page."""
    page = gmail["context"].new_page()
    page.goto(GMAIL)
    assert gmail["key"] not in page.content()
    page.close()
    stored = gmail["worker"].evaluate("chrome.storage.local.get(['odooUrl', 'apiKey'])")
    assert stored == {"odooUrl": odoo_server.url, "apiKey": gmail["key"]}
    options = gmail["options"]
    options.fill("#api-key", "not-a-key")
    options.click("button[type=submit] >> nth=0")
    options.wait_for_selector("[data-mtx=connection-status].error", timeout=20000)
    assert re.search(r"key|unauthori", options.inner_text("[data-mtx=connection-status]"), re.I)
    options.fill("#api-key", gmail["key"])
    options.click("button[type=submit] >> nth=0")
    options.wait_for_selector("[data-mtx=connection-status].ok", timeout=20000)


def test_r_hostile_names_stay_text_and_gmails_page_cannot_reach_the_extension(odoo_server, crm, gmail):
    """A contact whose name is HTML is shown as text (marker, records, sentence): nothing of what
    Odoo answers is run in Gmail's page. Gmail's own scripts cannot message the extension's service
    worker (no externally_connectable), so no page can use the key through it."""
    suffix = uuid.uuid4().hex[:6]
    name = '<img src=x onerror="window.pwned=1">Eve'
    odoo_server.rpc("res.partner", "create", {"name": name, "email": f"eve{suffix}@customer.example"})
    page = gmail["context"].new_page()
    page.goto(GMAIL)
    dialog = compose(page, to=[f"eve{suffix}@customer.example"], subject="Hostile")
    bar = bar_of(dialog)
    wait_for_lookup(bar, expected_records=1)
    assert bar.locator("[data-mtx=record]").inner_text().startswith(name)
    assert name in bar.locator("[data-mtx=tracking-mode]").inner_text()
    assert name in mark_of(page, f"eve{suffix}@customer.example").get_attribute("title")
    assert bar.eval("root => root.querySelectorAll('img').length") == 0
    assert page.evaluate("window.pwned") is None
    reached = page.evaluate("""(id) => new Promise((resolve) => {
        if (!window.chrome?.runtime?.sendMessage) { resolve('no runtime'); return; }
        try { chrome.runtime.sendMessage(id, {type: 'me'}, (answer) => resolve(answer ? 'answered' : 'refused')); }
        catch (error) { resolve('refused'); }
    })""", gmail["extension_id"])
    assert reached in ("no runtime", "refused")
    page.close()


PAGE_READS_EVERYTHING = """() => {
    // what a script of Gmail's page can read: every text and attribute, open shadow roots included
    const seen = [];
    const walk = (node) => {
        for (const element of node.querySelectorAll('*')) {
            seen.push(...[...element.attributes].map((attribute) => attribute.value));
            if (element.shadowRoot) { seen.push(element.shadowRoot.textContent); walk(element.shadowRoot); }
        }
    };
    seen.push(document.documentElement.textContent);
    walk(document);
    const hosts = [...document.querySelectorAll('[data-mtx]')];
    return {text: seen.join(' '), hosts: hosts.length, opened: hosts.filter((host) => host.shadowRoot).length};
}"""


def isolated_world_of(page, extension_id):
    """The content script's own world in ``page`` (DevTools protocol): where a compromised or
    confused content script would send messages from."""
    cdp = page.context.new_cdp_session(page)
    contexts = []
    cdp.on("Runtime.executionContextCreated", lambda event: contexts.append(event["context"]))
    cdp.send("Runtime.enable")
    page.wait_for_timeout(500)
    [world] = [context for context in contexts if extension_id in context.get("origin", "")]

    def run(expression):
        answer = cdp.send("Runtime.evaluate", {"expression": expression, "contextId": world["id"],
                                               "awaitPromise": True, "returnByValue": True})
        return answer["result"].get("value")
    return run


def test_r_gmails_page_cannot_read_odoo_data_nor_send_through_odoo(
        odoo_server, mail_catcher, crm, customers, gmail):
    """Gmail's page (or a script in it) sees no contact, company or opportunity name of Odoo: the
    bar, the contact markers and the notes are closed shadow roots; a script's click on Send is
    not the user's, so the email goes as Gmail sends it, untracked and logged nowhere; and the
    content script cannot reach what only the extension's pages may (the personal lists)."""
    company_name, lead_name = f"Customer {crm['suffix']}", "Big deal"
    subject = f"Copione {uuid.uuid4().hex[:6]}"
    stranger = f"nessuno{crm['suffix']}@prospect.example"
    mail_catcher.clear()
    page = gmail["context"].new_page()
    page.goto(GMAIL)
    dialog = compose(page, to=[customers["anna_email"], stranger], subject=subject)
    bar = bar_of(dialog)
    wait_for_lookup(bar, expected_records=3)
    assert company_name in mark_of(page, customers["anna_email"]).get_attribute("title"), "the user sees it"
    assert mark_of(page, stranger).count() == 0, "no dot on a stranger's chip"
    # ...but Gmail's page sees the same on both chips: it cannot learn who is an Odoo contact
    marks = page.evaluate("""(emails) => emails.map((email) => {
        const mark = document.querySelector(`[data-hovercard-id="${email}"] > [data-mtx]`);
        const {width, height} = mark.getBoundingClientRect();
        return {html: mark.outerHTML, width, height, style: getComputedStyle(mark).cssText};
    })""", [customers["anna_email"], stranger])
    assert marks[0] == marks[1], marks
    assert lead_name in bar.locator("[data-mtx=records]").inner_text()
    seen = page.evaluate(PAGE_READS_EVERYTHING)
    assert seen["hosts"] >= 2 and seen["opened"] == 0, seen
    assert company_name not in seen["text"] and lead_name not in seen["text"]

    # the page presses Send itself: Gmail sends what the page holds, Odoo is not asked
    page.evaluate("""() => { const button = document.querySelector('.aoO');
        for (const type of ['mousedown', 'mouseup', 'click']) {
            button.dispatchEvent(new MouseEvent(type, {bubbles: true, cancelable: true, view: window}));
        } }""")
    [delivered] = mail_catcher.wait_for(1)
    assert not PIXEL.search(html_part(delivered)) and OFFER_URL in html_part(delivered)
    assert to_of(delivered).count("@") == 2, to_of(delivered)
    page.wait_for_timeout(1000)
    assert rpc_as(odoo_server, crm, "mail.message", "search_count", [("subject", "=", subject)]) == 0
    page.goto(GMAIL)

    # the content script asks for what only the settings page may: refused
    run = isolated_world_of(page, gmail["extension_id"])
    assert run("typeof chrome.runtime.sendMessage") == "function"
    answer = run("""chrome.runtime.sendMessage({type: 'saveLists',
        lists: {never_track: ['evil.example'], never_log: []}}).then((answer) => answer ?? 'refused')""")
    assert answer == "refused", answer
    assert run("chrome.runtime.sendMessage({type: 'lists'}).then((answer) => answer ?? 'refused')") == "refused"
    assert run("chrome.runtime.sendMessage({type: 'me'}).then((answer) => answer.ok)") is True
    lists = requests.get(f"{odoo_server.url}/email-tracking/api/1/lists", timeout=10,
                         headers={"Authorization": f"Bearer {gmail['key']}"}).json()
    assert "evil.example" not in lists["never_track"]
    page.close()


def test_l2_send_right_after_changing_the_recipient_logs_on_the_new_ones(
        odoo_server, mail_catcher, crm, customers, gmail):
    """To changes from Anna to Bruno and Send follows at once (before the bar asked Odoo about
    Bruno): the email is logged on Bruno's records, never on those pre-selected for Anna."""
    subject = f"Cambio {uuid.uuid4().hex[:6]}"
    mail_catcher.clear()
    page = gmail["context"].new_page()
    page.goto(GMAIL)
    dialog = compose(page, to=[customers["anna_email"]], subject=subject)
    wait_for_lookup(bar_of(dialog), expected_records=3)
    # the user deletes Anna's chip (the fixture has no chip menu) and types Bruno, then Send
    dialog.locator(f"[data-hovercard-id='{customers['anna_email']}']").evaluate("chip => chip.remove()")
    dialog.locator("[name=to] input").fill(customers["bruno_email"])
    dialog.locator("[name=to] input").press("Enter")
    dialog.locator(".aoO").click()
    toast_of(page).wait_for(timeout=30000)
    [delivered] = mail_catcher.wait_for(1)
    assert to_of(delivered) == customers["bruno_email"]
    [message] = rpc_as(odoo_server, crm, "mail.message", "search_read", [("subject", "=", subject)],
                       ["model", "res_id"])
    logged_on = {(message["model"], message["res_id"])} | {(a["model"], a["res_id"]) for a in rpc_as(
        odoo_server, crm, "mail.message.association", "search_read", [("message_id", "=", message["id"])],
        ["model", "res_id"])}
    assert ("res.partner", crm["bruno"]) in logged_on, logged_on
    assert not logged_on & {("res.partner", crm["anna"]), ("res.partner", customers["company"]),
                            ("crm.lead", crm["lead"])}, logged_on
    page.close()


def test_l_closed_as_draft_after_gmail_refused_is_neither_logged_nor_tracked(
        odoo_server, crm, customers, gmail):
    """Gmail refuses the email Odoo prepared (its window stays open) and the user closes the window:
    Gmail keeps a draft with the user's own body (no pixel, the original link) and Odoo logs nothing."""
    subject = f"{REFUSED} Bozza {uuid.uuid4().hex[:6]}"
    page = gmail["context"].new_page()
    page.goto(GMAIL)
    dialog = compose(page, to=[customers["anna_email"]], subject=subject)
    wait_for_lookup(bar_of(dialog), expected_records=3)
    dialog.locator(".aoO").click()
    page.wait_for_function("() => document.getElementById('notice').textContent.includes('could not send')",
                           timeout=30000)
    assert PIXEL.search(dialog.locator("[g_editable]").inner_html()), "Gmail holds the prepared body"
    dialog.locator(".Ha").click()
    draft = page.wait_for_function("() => window.lastDraft", timeout=10000).json_value()
    assert not PIXEL.search(draft["html"]) and OFFER_URL in draft["html"], draft
    page.wait_for_timeout(2000)
    assert rpc_as(odoo_server, crm, "mail.message", "search_count", [("subject", "=", subject)]) == 0
    page.close()


def test_l_closed_while_odoo_prepares_is_a_draft_neither_logged_nor_tracked(
        odoo_server, crm, customers, gmail):
    """The user presses Send and at once Gmail's close (Save & close) while Odoo still prepares the
    email: Gmail keeps the draft with the user's own body, and Odoo logs nothing (the close button
    is in the dialog's title bar, outside the part with the subject and Send, as in Gmail)."""
    subject = f"Ripensamento {uuid.uuid4().hex[:6]}"
    page = gmail["context"].new_page()
    page.goto(GMAIL)
    dialog = compose(page, to=[customers["anna_email"]], subject=subject)
    wait_for_lookup(bar_of(dialog), expected_records=3)
    dialog.locator(".aoO").click()
    dialog.locator(".Ha").click()  # where it is now: the bar's status line moved the title bar
    draft = page.wait_for_function("() => window.lastDraft", timeout=10000).json_value()
    assert draft["subject"] == subject and not PIXEL.search(draft["html"]) and OFFER_URL in draft["html"], draft
    page.wait_for_timeout(3000)
    assert rpc_as(odoo_server, crm, "mail.message", "search_count", [("subject", "=", subject)]) == 0
    page.close()


def test_l_a_close_pressed_but_not_released_leaves_the_window_usable(
        odoo_server, mail_catcher, crm, customers, gmail):
    """Gmail refuses the prepared email; the user presses the close button but releases the mouse
    elsewhere (the window stays): the body is the user's again, the bar says nothing was sent, and
    a later Send (after fixing the subject) goes through Odoo and is logged."""
    subject = f"{REFUSED} Riprova {uuid.uuid4().hex[:6]}"
    mail_catcher.clear()
    page = gmail["context"].new_page()
    page.goto(GMAIL)
    dialog = compose(page, to=[customers["anna_email"]], subject=subject)
    bar = bar_of(dialog)
    wait_for_lookup(bar, expected_records=3)
    dialog.locator(".aoO").click()
    page.wait_for_function("() => document.getElementById('notice').textContent.includes('could not send')",
                           timeout=30000)
    close = dialog.locator(".Ha").bounding_box()
    page.mouse.move(close["x"] + close["width"] / 2, close["y"] + close["height"] / 2)
    page.mouse.down()
    page.mouse.move(close["x"] - 200, close["y"] + 200)
    page.mouse.up()
    deadline = time.monotonic() + 10
    while "did not send" not in (bar.locator("[data-mtx=status]").inner_text() or ""):
        assert time.monotonic() < deadline, bar.locator("[data-mtx=status]").inner_text()
        time.sleep(0.2)
    assert not PIXEL.search(dialog.locator("[g_editable]").inner_html())
    assert not bar.locator("[data-mtx=switch-log]").is_disabled()
    fixed = subject.replace(REFUSED, "").strip()
    dialog.locator("input[name=subjectbox]").fill(fixed)
    dialog.locator(".aoO").click()
    toast_of(page).wait_for(timeout=30000)
    [delivered] = mail_catcher.wait_for(1)
    assert PIXEL.search(html_part(delivered))
    assert rpc_as(odoo_server, crm, "mail.message", "search_count", [("subject", "=", subject)]) == 0
    assert rpc_as(odoo_server, crm, "mail.message", "search_count", [("subject", "=", fixed)]) == 1
    page.close()


def test_r_the_key_goes_only_to_the_saved_https_odoo_never_on_after_a_redirect(odoo_server, gmail):
    """Whatever the storage holds, every call checks the address again: plain http to another
    machine is refused before the key leaves; an Odoo address that redirects elsewhere is not
    followed (the redirect's target, a local recorder standing in for another server, gets nothing)."""
    received = []

    class Recorder(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            received.append((self.path, self.headers.get("Authorization")))
            body = b'{"user": {}}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    recorder = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    target = f"http://127.0.0.1:{recorder.server_address[1]}"

    class Redirector(Recorder):
        def do_GET(self):  # noqa: N802
            self.send_response(307)
            self.send_header("Location", target + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

    redirector = ThreadingHTTPServer(("127.0.0.1", 0), Redirector)
    for server in (recorder, redirector):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    worker, options = gmail["worker"], gmail["options"]
    ask_me = "chrome.runtime.sendMessage({type: 'me'})"
    try:
        worker.evaluate("(url) => chrome.storage.local.set({odooUrl: url})", "http://odoo.example.com")
        answer = options.evaluate(ask_me)
        assert answer["ok"] is False and answer["error"]["code"] == "not_https", answer
        worker.evaluate("(url) => chrome.storage.local.set({odooUrl: url})",
                        f"http://127.0.0.1:{redirector.server_address[1]}")
        answer = options.evaluate(ask_me)
        assert answer["ok"] is False, answer
        assert received == [], received
    finally:
        worker.evaluate("(url) => chrome.storage.local.set({odooUrl: url})", odoo_server.url)
        for server in (recorder, redirector):
            server.shutdown()
            server.server_close()
    assert options.evaluate(ask_me)["ok"] is True


def test_l_create_contact_choices_start_from_the_users_preference(odoo_server, crm, gmail):
    """"Create as new contact" starts ticked or not as the salesperson's Odoo preference "Create
    Contacts When Logging" says."""
    suffix = uuid.uuid4().hex[:6]
    uid = odoo_server.login(crm["sales_login"], f"{crm['sales_login']}-pw")
    seen = {}
    try:
        for preference in (False, True):
            odoo_server.rpc("res.users", "write", [uid], {"mail_logging_create_contacts": preference})
            page = gmail["context"].new_page()
            page.goto(GMAIL)
            bar = bar_of(compose(page, to=[f"nuovo{suffix}@prospect.example"], subject="Nuovo"))
            wait_for_lookup(bar)
            box = bar.locator("[data-mtx=create-contact]")
            box.wait_for(timeout=30000)
            seen[preference] = box.is_checked()
            page.close()
    finally:
        odoo_server.rpc("res.users", "write", [uid], {"mail_logging_create_contacts": True})
    assert seen == {False: False, True: True}


def test_r_the_settings_page_refuses_odoo_over_plain_http(gmail):
    """The API key goes with every request: an Odoo address in http:// is refused, with the reason,
    unless Odoo runs on this computer (the test's own Odoo is http://127.0.0.1)."""
    options = gmail["options"]
    options.reload()
    saved = options.input_value("#odoo-url")
    options.fill("#odoo-url", "http://odoo.example.com/")
    options.click("button[type=submit] >> nth=0")
    options.wait_for_selector("[data-mtx=connection-status].error", timeout=20000)
    assert "https://" in options.inner_text("[data-mtx=connection-status]")
    stored = gmail["worker"].evaluate("chrome.storage.local.get('odooUrl')")
    assert stored["odooUrl"] == saved and saved.startswith("http://127.0.0.1")
    options.fill("#odoo-url", saved)
    options.click("button[type=submit] >> nth=0")
    options.wait_for_selector("[data-mtx=connection-status].ok", timeout=20000)


def test_the_extension_speaks_english_and_italian():
    """Every text of the extension (_locales/) is in English and Italian, with the same placeholders,
    and every text the code asks for exists."""
    def messages(lang):
        with open(os.path.join(EXTENSION, "_locales", lang, "messages.json"), encoding="utf-8") as fh:
            return json.load(fh)

    english, italian = messages("en"), messages("it")
    assert set(italian) == set(english)
    for key, entry in english.items():
        assert italian[key].get("placeholders") == entry.get("placeholders"), key
        assert italian[key]["message"] != "", key
    asked = set()
    for root, _dirs, names in os.walk(os.path.join(EXTENSION, "src")):
        for name in names:
            with open(os.path.join(root, name), encoding="utf-8") as fh:
                code = fh.read()
            asked |= set(re.findall(r'\bt\("(\w+)"', code)) | set(re.findall(r'getMessage\("(\w+)"', code))
            asked |= set(re.findall(r'data-i18n(?:-placeholder)?="(\w+)"', code))
    asked |= {f"feed_{kind}" for kind in ("sent", "opened", "clicked", "replied")}
    assert asked - set(english) == set()
    assert set(english) - asked - {"extName", "extDescription", "actionTitle"} == set(), "unused texts"
