import re

import polib
from markupsafe import Markup

from odoo.tests import tagged
from odoo.tools.misc import file_path

from .common import TrackingCase

BODY = Markup('<p>Buongiorno</p><a href="https://shop.example/offer">offerta</a>')
PLACEHOLDER = re.compile(r"%\([a-z_]+\)s|%s|%d|\{[a-z_]+\}")


@tagged("post_install", "-at_install")
class TestI18n(TrackingCase):
    """The Italian translation is complete and applies at runtime (E1)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("it_IT")
        cls.env["ir.module.module"]._load_module_terms(["mail_tracking_ext"], ["it_IT"], overwrite=True)
        cls.env.registry.clear_cache()

    def test_e1_it_po_translates_every_pot_entry(self):
        pot = polib.pofile(file_path("mail_tracking_ext/i18n/mail_tracking_ext.pot"))
        it = {entry.msgid: entry for entry in polib.pofile(file_path("mail_tracking_ext/i18n/it.po"))}
        self.assertTrue(len(pot) > 100, "the template holds the module's terms")
        for template in pot:
            entry = it.get(template.msgid)
            self.assertTrue(entry, f"it.po lacks {template.msgid!r}")
            self.assertTrue(entry.msgstr.strip(), f"{template.msgid!r} is not translated")
            self.assertNotIn("fuzzy", entry.flags, f"{template.msgid!r} is fuzzy")
            self.assertCountEqual(PLACEHOLDER.findall(entry.msgstr), PLACEHOLDER.findall(template.msgid),
                                  f"{template.msgid!r} must keep its placeholders")

    def test_e1_italian_applies_to_fields_views_code_and_web_client(self):
        Partner = self.env["res.partner"].with_context(lang="it_IT")
        self.assertEqual(self.env["ir.model.fields"]._get("res.partner", "do_not_track")
                         .with_context(lang="it_IT").field_description, "Non tracciare")
        description = Partner.fields_get(["do_not_track", "legal_basis"], ["string", "selection"])
        self.assertEqual(description["do_not_track"]["string"], "Non tracciare")
        self.assertEqual(description["legal_basis"]["string"], "Base giuridica del trattamento")
        self.assertIn("Legittimo interesse – cliente esistente", dict(description["legal_basis"]["selection"]).values())
        settings = self.env.ref("mail_tracking_ext.res_config_settings_view_form")
        settings_arch = settings.with_context(lang="it_IT").arch_db
        self.assertIn("Tracciamento email", settings_arch)
        self.assertIn("Elenco di esclusione dal tracciamento", settings_arch)
        # python code terms (_ / env._), in the recipient's language
        self.anna.lang = "it_IT"
        label = self.env["mail.mail"]._optout_link_html(self.anna, "#")
        self.assertIn("Non tracciare più la mia attività su queste email", label)
        # JS and OWL template terms, as the web client receives them
        IrHttp = self.env["ir.http"]
        # (19.0 made it private: _get_translations_for_webclient)
        for_webclient = (getattr(IrHttp, "get_translations_for_webclient", None)
                         or IrHttp._get_translations_for_webclient)
        web_terms, _params = for_webclient(["mail_tracking_ext"], "it_IT")
        messages = {m["id"]: m["string"] for m in web_terms["mail_tracking_ext"]["messages"]}
        self.assertEqual(messages.get("Track opens"), "Traccia aperture")
        self.assertEqual(messages.get("%(who)s opened your email"), "%(who)s ha aperto l'email")

    def test_e1_opt_out_page_in_the_contact_language(self):
        self.env.company.mail_tracking_optout_link = True
        self.anna.lang = "it_IT"
        message = self.post_email(self.anna, BODY)
        body = self.outgoing(message)["anna@customer.example"]["body"]
        self.assertIn("Non tracciare più la mia attività su queste email", body)
        token = self.token_of(body)
        page = self.url_open(f"/email-tracking/optout/{token}")
        self.assertEqual(page.status_code, 200)
        self.assertIn("Interrompere il tracciamento delle email?", page.text)
        self.assertIn("Interrompi il tracciamento", page.text)
        self.assertNotIn("Stop tracking", page.text)
        csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        done = self.url_open(f"/email-tracking/optout/{token}", data={"csrf_token": csrf})
        self.assertIn("Tracciamento interrotto", done.text)
        self.assertTrue(self.anna.do_not_track)
