#!/usr/bin/env python3
"""Screenshots of the addon's screens, as its users see them, in English and Italian.

    make screenshots                    # every scene, both languages, into .screenshots/
    make screenshots ARGS="--scene preferences --lang it_IT"

The store scenes also write the app store's pictures into the addon's static/description/
(English), render its icon from icon.svg, and a picture of its index.html for review.

Runs Odoo on its own new demo database (``mtx_screenshots``), sets up each scene's data over
RPC as an administrator would, and drives Debian's Chromium with Playwright as the user of
the scene (the demo salesperson, an own-documents user, unless the screen is an
administrator's). Look at the pictures: a tour proves that
clicks work, not that a screen reads well.
"""

import argparse
import base64
import os
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from devtools import odoo_runtime as rt  # noqa: E402

DB = os.environ.get("MTX_SCREENSHOTS_DB", "mtx_screenshots")
OUT = os.path.join(rt.REPO_ROOT, ".screenshots")
# the app store's page and its pictures (the store scenes write there, in English)
STORE = os.path.join(rt.REPO_ADDONS, rt.MODULE, "static", "description")
VIEWPORT = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]


class Session:
    """A browser logged in as one user, and RPC as the administrator."""

    def __init__(self, server, browser, login, lang, viewport=VIEWPORT):
        self.server, self.login, self.lang = server, login, lang
        uid = server.login(login, login)
        server.rpc("res.users", "write", [uid], {"lang": lang})
        self.page = browser.new_page(viewport=viewport, locale=lang.replace("_", "-"))
        self.page.goto(f"{server.url}/web/login")
        self.page.fill("input[name=login]", login)
        self.page.fill("input[name=password]", login)
        self.page.click("button[type=submit]")
        self.page.wait_for_url("**/odoo**")

    def open(self, path, ready=".o_action_manager .o_view_controller"):
        self.page.goto(f"{self.server.url}{path}")
        self.page.wait_for_selector(ready)
        self.page.wait_for_timeout(500)

    def shot(self, name, locator=None, store=False):
        """A picture for review in .screenshots/<lang>/, or with ``store`` (English only)
        one of the app store's pictures in static/description/."""
        if store and self.lang != "en_US":
            return
        folder = STORE if store else os.path.join(OUT, self.lang)
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"{name}.png")
        self.page.wait_for_timeout(400)  # animations
        (locator or self.page).screenshot(path=path)
        print(f"  {os.path.relpath(path, rt.REPO_ROOT)}", flush=True)

    def close(self):
        self.page.close()


def demo_opportunity(server):
    """The demo salesperson's open opportunity on a customer that also has others' opportunities."""
    uid = server.login("demo", "demo")
    for lead in server.rpc("crm.lead", "search_read", [
            ("user_id", "=", uid), ("type", "=", "opportunity"), ("partner_id.email", "!=", False),
            ("stage_id.is_won", "=", False)], ["partner_id"], order="id"):
        others = server.rpc("crm.lead", "search_count", [
            ("partner_id", "child_of", lead["partner_id"][0]), ("user_id", "!=", uid)])
        if others:
            return lead["id"], lead["partner_id"][0]
    raise RuntimeError("the demo data has no opportunity of the demo user whose customer has a colleague's")


def open_full_composer(session, lead_id):
    page = session.page
    session.open(f"/odoo/crm/{lead_id}", ready=".o-mail-Chatter")
    page.click(".o-mail-Chatter-topbar button.o-mail-Chatter-sendMessage")
    page.fill(".o-mail-Composer-input", "Our offer: https://shop.example/offer")
    page.click("button.o-mail-Composer-fullComposer")
    page.wait_for_selector(".o_mail_composer_form_view")
    page.wait_for_timeout(600)
    return page.locator(".modal-dialog")


def scene_composer(server, browser, lang):
    """The full composer of an own-documents salesperson: every recipient tracked, then one not."""
    lead_id, partner_id = demo_opportunity(server)
    session = Session(server, browser, "demo", lang)
    try:
        session.shot("composer_tracked", open_full_composer(session, lead_id))
        company = server.rpc("res.company", "search", [], limit=1)
        server.rpc("res.company", "write", company, {"mail_tracking_privacy": True})
        server.rpc("res.partner", "write", [partner_id], {"legal_basis": "none"})
        try:
            session.shot("composer_untracked_notice", open_full_composer(session, lead_id))
        finally:
            server.rpc("res.company", "write", company, {"mail_tracking_privacy": False})
            server.rpc("res.partner", "write", [partner_id], {"legal_basis": False})
    finally:
        session.close()


def scene_preferences(server, browser, lang):
    """Preferences when the company enforces the defaults: the values in force."""
    company = server.rpc("res.company", "search", [], limit=1)
    server.rpc("res.company", "write", company, {
        "mail_tracking_enforce_defaults": True, "mail_tracking_default_opens": True,
        "mail_tracking_default_clicks": False, "mail_logging_enforce_default": True, "mail_logging_default": False})
    session = Session(server, browser, "demo", lang)
    try:
        session.open("/odoo", ready=".o_main_navbar .o_user_menu")
        page = session.page
        page.click(".o_user_menu button, .o_user_menu .dropdown-toggle")
        page.click("[data-menu=settings], .dropdown-item:has-text('Preferences'), "
                   ".dropdown-item:has-text('Preferenze')")
        page.wait_for_selector(".modal .o_form_view")
        page.click(".modal .nav-link[name=preferences_page], .modal a[name=preferences_page]", timeout=3000) \
            if page.locator(".modal a[name=preferences_page]").count() else None
        page.locator(".modal [name=mail_tracking_exclusion_ids], .modal .o_group:has-text('Email')").first \
            .scroll_into_view_if_needed()
        session.shot("preferences_enforced", page.locator(".modal-dialog"))
    finally:
        session.close()
        server.rpc("res.company", "write", company, {"mail_tracking_enforce_defaults": False,
                                                     "mail_logging_enforce_default": False})


def scene_settings(server, browser, lang):
    """Settings › CRM, Email Logging, as the administrator (no alias domain: the warning)."""
    session = Session(server, browser, "admin", lang)
    try:
        session.open("/odoo/settings#crm", ready=".o_form_view .o_setting_box, .o_form_view .o_setting_container")
        for name, setting in (("settings_logging", "#mail_logging_address"),
                              ("settings_tracking", "#mail_tracking_exclusions")):
            block = session.page.locator(setting).locator("xpath=..")  # the setting's block
            block.scroll_into_view_if_needed()
            session.shot(name, block)
    finally:
        session.close()


def scene_associations(server, browser, lang):
    """A logged email of the demo user that is also on an administrator's opportunity:
    the Associations dialog, for its author."""
    lead_id, partner_id = demo_opportunity(server)
    uid = server.login("demo", "demo")
    subject = f"Logged offer {uuid.uuid4().hex[:4]}"
    server.rpc("crm.lead", "message_post", [lead_id], body=f"<p>{subject}</p>", subject=subject,
               partner_ids=[partner_id], message_type="comment", subtype_xmlid="mail.mt_comment",
               log_email=True, login="demo", password="demo")
    others = server.rpc("crm.lead", "search", [("partner_id", "child_of", partner_id), ("user_id", "!=", uid)],
                        limit=1)
    message_id = server.rpc("mail.message", "search", [("subject", "=", subject)], limit=1)[0]
    server.rpc("mail.message.association", "create",
               {"message_id": message_id, "model": "crm.lead", "res_id": others[0]})
    session = Session(server, browser, "demo", lang)
    try:
        session.open(f"/odoo/crm/{lead_id}")
        page = session.page
        message = page.locator(f".o-mail-Message:has-text('{subject}')").first
        message.hover()
        if message.locator(".fa-sitemap").count() == 0:  # the action hides behind the ⋮ of the message
            message.locator("button:has(.fa-ellipsis-v)").first.click()
        page.locator(".o-mail-Message-moreMenu .fa-sitemap, .o-mail-Message .fa-sitemap").first.click()
        page.wait_for_selector(".modal .o_form_view")
        session.shot("associations_dialog", page.locator(".modal-dialog"))
    finally:
        session.close()


def scene_import(server, browser, lang):
    """The summary of an import with a real email and a file that is not one."""
    session = Session(server, browser, "demo", lang)
    demo_email = server.rpc("res.users", "read", [server.login("demo", "demo")], ["email"])[0]["email"]
    real = (f"From: {demo_email}\r\nTo: Deco Addict <deco.addict82@example.com>\r\n"
            f"Subject: Offerta caffè\r\nMessage-ID: <{uuid.uuid4().hex}@mailbox.example>\r\n"
            "Date: Mon, 02 Nov 2026 10:00:00 +0100\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            "Buongiorno,\r\necco l'offerta: https://shop.example/offerta\r\n").encode()
    try:
        page = session.page
        session.open("/odoo/action-mail_tracking_ext.mail_logging_import_list_action")
        page.goto(f"{server.url}/odoo/action-mail_tracking_ext.mail_logging_import_action")
        page.wait_for_selector(".o_form_view input[type=file]", state="attached")
        page.set_input_files(".o_form_view input[type=file]", files=[
            {"name": "offerta.eml", "mimeType": "message/rfc822", "buffer": real},
            {"name": "garbage.eml", "mimeType": "message/rfc822", "buffer": bytes(range(256)) * 8},
        ])
        page.wait_for_timeout(1000)
        page.click("button[name=action_import]")
        page.wait_for_selector("[name=request_ids] .o_data_row")
        session.shot("import_summary", page.locator(".modal-dialog, .o_form_view").first)
    finally:
        session.close()


def scene_expired_link(server, browser, lang):
    """A link whose email was deleted, as its recipient sees it."""
    page = browser.new_page(viewport={"width": 800, "height": 600},
                            extra_http_headers={"Accept-Language": lang.replace("_", "-")})
    page.goto(f"{server.url}/email-tracking/click/{base64.urlsafe_b64encode(os.urandom(33)).decode()[:44]}"
              "/0123456789ab")
    folder = os.path.join(OUT, lang)
    os.makedirs(folder, exist_ok=True)
    page.screenshot(path=os.path.join(folder, "link_expired.png"))
    print(f"  {os.path.relpath(os.path.join(folder, 'link_expired.png'), rt.REPO_ROOT)}", flush=True)
    page.close()


def scene_store(server, browser, lang):
    """The app store's pictures, from the demo data: the chatter of a tracked email with
    its recipients' engagement, the tracked-email report, the activity feed, a contact's
    statistics, the composer."""
    session = Session(server, browser, "demo", lang)
    page = session.page
    try:
        lead = server.rpc("ir.model.data", "search_read", [("module", "=", "crm"), ("name", "=", "crm_case_26")],
                          ["res_id"])[0]["res_id"]
        session.open(f"/odoo/crm/{lead}", ready=".o-mail-Chatter .o-mail-TrackingStatus")
        page.locator(".o-mail-TrackingStatus").first.hover()
        page.wait_for_selector(".o-mail-TrackingPopover-recipient")
        session.shot("screenshot_chatter", store=True)
        session.shot("chatter_popover")
        page.click(".o-mail-Chatter-topbar button.o-mail-Chatter-sendMessage")
        page.wait_for_selector(".o-mail-TrackingSwitches")
        session.shot("chatter_composer", page.locator(".o-mail-Chatter").first)
        session.open("/odoo/action-mail_tracking_ext.mail_tracked_recipient_action")
        session.shot("screenshot_report", store=True)
        page.click(".o-mail-TrackingFeedSystray button")
        page.wait_for_selector(".o_action_manager .o_view_controller")
        page.wait_for_timeout(800)
        session.shot("screenshot_feed", store=True)
        contact = server.rpc("ir.model.data", "search_read", [("module", "=", "base"),
                                                             ("name", "=", "res_partner_address_3")],
                             ["res_id"])[0]["res_id"]
        session.open(f"/odoo/contacts/{contact}", ready=".o_form_view .oe_stat_button")
        session.shot("screenshot_contact", store=True)
        session.shot("screenshot_composer", open_full_composer(session, lead).locator(".."), store=True)
    finally:
        session.close()
    phone = Session(server, browser, "demo", lang, viewport=PHONE)
    try:
        phone.open("/odoo/action-mail_tracking_ext.mail_tracked_recipient_action")
        phone.shot("phone_report")
        phone.open("/odoo/action-mail_tracking_ext.mail_tracked_engagement_action")
        phone.shot("phone_feed")
        phone.page.goto(f"{server.url}/odoo/crm/{lead}")
        phone.page.wait_for_selector(".o-mail-Chatter", state="attached")
        phone.page.locator(".o-mail-Chatter-topbar button.o-mail-Chatter-sendMessage").scroll_into_view_if_needed()
        phone.page.click(".o-mail-Chatter-topbar button.o-mail-Chatter-sendMessage")
        phone.page.wait_for_selector(".o-mail-TrackingSwitches")
        phone.page.locator(".o-mail-TrackingSwitches").scroll_into_view_if_needed()
        phone.shot("phone_chatter_composer")
    finally:
        phone.close()


def scene_machines(server, browser, lang):
    """Machines' opens and clicks, greyed with their reason (A1): an email only Apple's
    privacy proxy fetched (open unknown), a gateway's click beside a person's open, the feed."""
    session = Session(server, browser, "demo", lang)
    page = session.page
    try:
        for xmlid, name in (("crm_case_19", "machines_apple_popover"), ("crm_case_18", "machines_gateway_popover")):
            lead = server.rpc("ir.model.data", "search_read", [("module", "=", "crm"), ("name", "=", xmlid)],
                              ["res_id"])[0]["res_id"]
            session.open(f"/odoo/crm/{lead}", ready=".o-mail-Chatter .o-mail-TrackingStatus")
            page.locator(".o-mail-TrackingStatus").first.hover()
            page.wait_for_selector(".o-mail-TrackingPopover-recipient")
            session.shot(name)
        page.click(".o-mail-TrackingFeedSystray button")
        page.wait_for_selector(".o_action_manager .o_view_controller")
        page.wait_for_timeout(800)
        session.shot("machines_feed")
    finally:
        session.close()


def scene_store_page(server, browser, lang):
    """The store's icon, from its SVG, and a picture of the rendered index.html for review."""
    if lang != "en_US":
        return
    icon = browser.new_page(viewport={"width": 256, "height": 256})
    icon.goto(f"file://{os.path.join(STORE, 'icon.svg')}")
    icon.screenshot(path=os.path.join(STORE, "icon.png"), omit_background=True)
    icon.close()
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.goto(f"file://{os.path.join(STORE, 'index.html')}")
    page.wait_for_load_state("load")
    os.makedirs(OUT, exist_ok=True)
    page.screenshot(path=os.path.join(OUT, "index.png"), full_page=True)
    page.close()
    print(f"  {os.path.relpath(os.path.join(STORE, 'icon.png'), rt.REPO_ROOT)}\n  .screenshots/index.png", flush=True)


SCENES = {
    "store": scene_store,
    "store_page": scene_store_page,
    "composer": scene_composer,
    "preferences": scene_preferences,
    "settings": scene_settings,
    "associations": scene_associations,
    "import": scene_import,
    "expired_link": scene_expired_link,
    "machines": scene_machines,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scene", action="append", choices=sorted(SCENES), help="only these scenes")
    parser.add_argument("--lang", action="append", choices=["en_US", "it_IT"], help="only these languages")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - the project's environment has it

    port = rt.free_port()
    print(f"Preparing {DB}...", flush=True)
    # a new database each time: the demo data is dated relative to its install
    rc, log = rt.prepare_demo_db(DB, f"http://127.0.0.1:{port}", fresh=True)
    rt.assert_clean_run(rc, log, f"preparing {DB}")
    with rt.OdooServer(DB, http_port=port) as server:
        server.rpc("base.language.install", "lang_install", server.rpc("base.language.install", "create", {
            "lang_ids": [(6, 0, server.rpc("res.lang", "search", [("code", "=", "it_IT"),
                                                                  ("active", "in", (True, False))]))]}))
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            try:
                for lang in args.lang or ["en_US", "it_IT"]:
                    for name in args.scene or SCENES:
                        print(f"{name} ({lang})", flush=True)
                        SCENES[name](server, browser, lang)
            finally:
                browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
