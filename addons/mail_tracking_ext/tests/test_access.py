from markupsafe import Markup

from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import TrackingCase

SECRET = Markup('<p>Alice secret deal Acme 250k</p><a href="https://shop.example/offer">offer</a>')


@tagged("post_install", "-at_install")
class TestAccess(TrackingCase):
    """P4 as the users who will meet it, over the ORM as RPC reaches it: two
    own-documents salespeople of one customer, a sales manager, a portal user and
    the public. Bob never learns anything of Alice's emails he may not read."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.alice = new_test_user(cls.env, login="mtx_alice", groups="sales_team.group_sale_salesman",
                                  name="Alice Sales", email="alice@mycompany.example")
        cls.bob = new_test_user(cls.env, login="mtx_bob", groups="sales_team.group_sale_salesman",
                                name="Bob Sales", email="bob@mycompany.example")
        cls.manager = new_test_user(cls.env, login="mtx_manager", groups="sales_team.group_sale_manager",
                                    name="Mia Manager")
        cls.portal = new_test_user(cls.env, login="mtx_portal", groups="base.group_portal", name="Pat Portal")
        cls.public = cls.env.ref("base.public_user")
        cls.acme, cls.carla = cls.create_customer_company()
        cls.alice_deal = cls.env["crm.lead"].create({
            "name": "Acme 250k", "type": "opportunity", "partner_id": cls.carla.id, "user_id": cls.alice.id})
        cls.bob_deal = cls.env["crm.lead"].create({
            "name": "Acme support", "type": "opportunity", "partner_id": cls.acme.id, "user_id": cls.bob.id})
        # logged on Alice's deal, and from there on Carla and Acme, which Bob can read
        cls.logged = cls.alice_deal.with_user(cls.alice).with_context(mail_notify_force_send=False).message_post(
            body=SECRET, subject="Alice secret deal Acme 250k", partner_ids=cls.carla.ids,
            message_type="comment", subtype_xmlid="mail.mt_comment", log_email=True)
        # tracked, written from Carla's contact (Bob can read it) and logged on Alice's deal
        cls.on_contact = cls.carla.with_user(cls.alice).with_context(mail_notify_force_send=False).message_post(
            body=SECRET, subject="Tracked from the contact", partner_ids=cls.carla.ids,
            message_type="comment", subtype_xmlid="mail.mt_comment", log_email=True,
            logged_record_refs=[("crm.lead", cls.alice_deal.id)])
        cls.env["mail.mail"].sudo().search(
            [("mail_message_id", "in", (cls.logged | cls.on_contact).ids)])._prepare_as_delivered()

    def test_p4_associations_of_an_email_one_cannot_read_are_invisible(self):
        """L2, P4: associations name an email and its records: only for those who read the email."""
        Association = self.env["mail.message.association"]
        alice_rows = Association.with_user(self.alice).search([("message_id", "=", self.logged.id)])
        self.assertEqual(set(alice_rows.mapped("res_name")), {"Acme, Carla Contact", "Acme"})
        with self.assertRaises(AccessError):
            self.logged.with_user(self.bob).read(["body"])
        bob = Association.with_user(self.bob)
        self.assertFalse(bob.search([("message_id", "=", self.logged.id)]))
        self.assertFalse(bob.search_read([], ["message_id", "res_name"]) and [
            row for row in bob.search_read([], ["message_id", "res_name"])
            if row["message_id"][0] == self.logged.id])
        self.assertFalse([group for group in bob.read_group([], ["model"], ["message_id"])
                          if group["message_id"] and group["message_id"][0] == self.logged.id])
        self.assertFalse([name for _id, name in bob.name_search("Acme")
                          if name in ("Acme", "Carla Contact")
                          and Association.browse(_id).message_id == self.logged])
        with self.assertRaises(AccessError):
            alice_rows.with_user(self.bob).read(["message_id"])
        # the manager reads every opportunity, hence the email and its associations
        self.assertEqual(len(Association.with_user(self.manager).search([("message_id", "=", self.logged.id)])), 2)
        for outsider in (self.portal, self.public):
            for model in ("mail.message.association", "mail.tracked.recipient", "mail.tracked.event"):
                with self.subTest(user=outsider.login, model=model), self.assertRaises(AccessError):
                    self.env[model].with_user(outsider).search([])

    def test_p4_tracking_does_not_leak_through_core_records(self):
        """P4: reading or searching an email, a contact or a user one may read never
        reveals tracking or logging data one may not read. Odoo reads emails as
        superuser and searches one2many fields without the other model's rules, so
        the addon adds no relation to them on emails or contacts at all."""
        self.on_contact.with_user(self.bob).read(["body"])  # Bob reads the email on Carla's timeline
        self.assertTrue(self.tracked(self.on_contact))
        self.assertFalse(self.env["mail.tracked.recipient"].with_user(self.bob).search(
            [("message_id", "=", self.on_contact.id)]), "the deal is Alice's: tracking is hers")
        # Bob may read the email, hence where it is logged, but not the name of Alice's deal
        [on_deal] = self.env["mail.message.association"].with_user(self.bob).search_read(
            [("message_id", "=", self.on_contact.id), ("model", "=", "crm.lead")], ["res_name"])
        self.assertEqual(on_deal["res_name"], "Restricted record")
        ours = self.env["ir.model.data"].search([
            ("module", "=like", "mail_tracking_ext%"), ("model", "=", "ir.model.fields")]).mapped("res_id")
        added = self.env["ir.model.fields"].search([
            ("id", "in", ours), ("ttype", "in", ("one2many", "many2many", "many2one")),
            ("model", "in", ("mail.message", "res.partner", "crm.lead", "res.company"))])
        self.assertFalse(added.mapped(lambda field: f"{field.model}.{field.name}"))
        # the users' never-track and never-log lists: Bob reads only the company's entries
        rules = self.env["mail.address.exclusion"]
        alice_rule = rules.with_user(self.alice).create({"pattern": "alice-friend.example", "user_id": self.alice.id})
        company_rule = rules.create({"pattern": "competitor.example"})
        seen = self.alice.with_user(self.bob).read(["mail_tracking_exclusion_ids"])[0]["mail_tracking_exclusion_ids"]
        self.assertNotIn(alice_rule.id, seen)
        self.assertFalse(rules.with_user(self.bob).search([("id", "in", (alice_rule | company_rule).ids)])
                         - company_rule)
