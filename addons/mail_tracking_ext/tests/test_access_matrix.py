"""P4 as a matrix: who reads and writes what of the addon, user by user, through
every way in (ORM as RPC reaches it, the export, the JSON routes, the bus).

The data is a sales team's: Acme, a customer with two account owners (Alice's
and Bob's opportunities), and Carla, its contact, who is also a portal user.
Three tracked emails to Carla, each opened once:

- ``deal``: Alice's, from her opportunity, logged on Carla and Acme;
- ``contact``: Alice's, from Carla's contact, logged on Alice's opportunity;
- ``bob_deal``: the sales manager Mia's, from Bob's opportunity, not logged.

The users (own-documents salespeople read only their own opportunities, Odoo 18's
``crm_rule_personal_lead``; there is no follower or team rule):

- ``alice``: the author of ``deal`` and ``contact``;
- ``bob``: the other account owner, who reads the record of ``bob_deal`` only;
- ``dan``: a salesperson who reads none of these opportunities;
- ``mia``: the sales manager, who reads every opportunity;
- ``max_b``: a sales manager of both companies working in the other one
  (``allowed_company_ids``: the other company only), ``max_a``: the same user in
  Acme's company, the control case;
- ``olga``: a salesperson of both companies working in the other one, whose
  company shows tracking to the readers of any linked record (the email's own
  company does not: it decides);
- ``carla``: the recipient, a portal user; ``public``: the public user.

``VISIBLE`` is the policy (SPEC P4); ``CASES`` lists every check, each with its
expected emails (or ``DENIED``: the operation raises an access error, or the
route refuses). The number of cases is logged at the end.
"""
import csv
import io
import json
import logging

from markupsafe import Markup

from odoo import http
from odoo.addons.bus.models.bus import channel_with_db, dispatch, hashable, json_dump
from odoo.addons.bus.tests.common import WebsocketCase
from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from ..models.ir_websocket import THREAD_CHANNEL_PREFIX
from ..tools.recorder import BUS_SUBCHANNEL, BUS_TYPE
from .common import MAIL_CLIENT, TrackingCase

_logger = logging.getLogger(__name__)

DENIED = "denied"
EMAILS = ("deal", "contact", "bob_deal")
SUBJECTS = {"deal": "Acme deal proposal", "contact": "Acme contact note", "bob_deal": "Acme support offer"}
BODY = Markup('<p>Our proposal</p><a href="https://shop.example/offer">offer</a>')
INTERNAL = ("alice", "bob", "dan", "mia", "max_b", "max_a", "olga")
OUTSIDERS = ("carla", "public")

# P4: the tracked emails whose tracking each user sees, company setting "every linked record"
VISIBLE = {
    "alice": {"deal", "contact"},               # the author
    "bob": {"bob_deal"},                        # reads every record of bob_deal only
    "dan": set(),
    "mia": {"deal", "contact", "bob_deal"},     # reads every opportunity
    "max_b": set(),                             # Acme's opportunities are not in the current company
    "max_a": {"deal", "contact", "bob_deal"},
    "olga": set(),
    "carla": DENIED,                            # portal and public never see tracking data
    "public": DENIED,
}
# with Acme's company showing tracking to the readers of any linked record (Carla, Acme)
VISIBLE_ANY = {
    "alice": {"deal", "contact"},
    "bob": {"deal", "contact", "bob_deal"},
    "dan": {"deal", "contact"},
    "mia": {"deal", "contact", "bob_deal"},
    "carla": DENIED,
    "public": DENIED,
}
# where a logged email is: visible to those who may read the email itself (mail.message's rules)
ASSOCIATIONS_VISIBLE = {
    "alice": {"deal", "contact"},
    "bob": {"contact"},                         # reads Carla's timeline, not Alice's opportunity
    "dan": {"contact"},
    "mia": {"deal", "contact"},
    "max_b": {"contact"},
    "max_a": {"deal", "contact"},
    "olga": {"contact"},
    "carla": DENIED,
    "public": DENIED,
}
TRACKING_MODELS = ("mail.tracked.recipient", "mail.tracked.event", "mail.tracked.engagement")
READ_OPERATIONS = ("search", "search_read", "search_count", "read_group", "name_search", "read", "export_data")


def _cases():
    cases = []
    for user, expected in VISIBLE.items():
        for model in TRACKING_MODELS:
            for operation in READ_OPERATIONS:
                cases.append((user, model, operation, expected))
        cases.append((user, "res.partner stats (Carla)", "mail_tracked_count", expected))
        cases.append((user, "res.partner stats (Carla)", "after a superuser read", expected))
    for user, expected in VISIBLE_ANY.items():
        for model in TRACKING_MODELS:
            cases.append((user, model, "search, company shows any linked record", expected))
    for user, expected in ASSOCIATIONS_VISIBLE.items():
        for operation in READ_OPERATIONS:
            cases.append((user, "mail.message.association", operation, expected))
    for user in ("alice", "bob", "dan", "mia", "carla", "public"):
        expected = VISIBLE[user]
        shown = set() if expected == DENIED else expected  # the chatter answers, without tracking
        cases.append((user, "/email-tracking/export/<Carla>", "GET (contact's CSV, P3)", expected))
        cases.append((user, "/web/export/csv mail.tracked.recipient", "POST", expected))
        cases.append((user, "/mail/thread/messages", "chatter's mailTracking", shown))
        cases.append((user, "mail.message", "mail_tracking_fetch_status (call_kw)", shown))
        cases.append((user, "bus", "thread channels subscribed", READS_RECORD.get(user, set())))
    for user, expected in GMAIL_FEED_VISIBLE.items():
        cases.append((user, "/email-tracking/api/1/feed", "GET with the user's API key (N2)", expected))
    cases += EXPLICIT_CASES
    return cases


# the opportunities' and Carla's chatter channels each user may listen to: read access (N4)
READS_RECORD = {
    "alice": {"deal", "contact"},               # channels of the records the emails were sent from
    "bob": {"contact", "bob_deal"},
    "dan": {"contact"},
    "mia": {"deal", "contact", "bob_deal"},
}

# the Gmail extension's feed, with each user's API key: the emails they wrote; portal users have no API
GMAIL_FEED_VISIBLE = {"alice": {"deal", "contact"}, "bob": set(), "dan": set(), "mia": {"bob_deal"},
                      "carla": DENIED}

# user, object, operation, expected: what is checked beside the read matrix
EXPLICIT_CASES = [
    ("bob", "mail.message.association", "res_name of Alice's opportunity", "Restricted record"),
    ("alice", "mail.message.association", "res_name of Alice's opportunity", "Acme 250k"),
    ("bob", "mail.message.association", "create", DENIED),
    ("alice", "mail.tracked.recipient", "write", DENIED),
    ("alice", "mail.tracked.recipient", "unlink", DENIED),
    ("alice", "mail.tracked.event", "create", DENIED),
    ("mia", "mail.tracked.event", "unlink", DENIED),
    ("bob", "message_post logged_record_refs", "log on Alice's opportunity", {"contact"}),
    ("bob", "mail.message.association.wizard", "open on Alice's email", DENIED),
    ("bob", "mail.message.conversation", "open on Alice's email", DENIED),
    ("alice", "mail.message.association.wizard", "open on her email", "Acme deal proposal"),
    ("bob", "mail.address.exclusion", "read Alice's never-track entry", DENIED),
    ("bob", "mail.address.exclusion", "search", {"company"}),
    ("bob", "mail.address.exclusion", "create a company entry", DENIED),
    ("bob", "mail.address.exclusion", "write Alice's entry", DENIED),
    ("max_b", "mail.address.exclusion", "search", set()),
    ("alice", "mail.address.exclusion", "search", {"company", "alice"}),
    ("bob", "res.users", "search mail_tracking_exclusion_ids in (Alice's entry)", DENIED),
    ("bob", "res.users", "search mail_logging_exclusion_ids != False", DENIED),
    ("bob", "res.users", "search mail_tracking_exclusion_ids.pattern", DENIED),
    ("bob", "res.users", "read Alice's mail_logging_sender_emails", DENIED),
    ("bob", "res.users", "read Alice's mail_tracking_feed_seen", DENIED),
    ("alice", "res.users", "read own never-track list and addresses (preferences)", {"alice"}),
    ("bob", "mail.logging.request", "search", {"bob"}),
    ("alice", "mail.logging.request", "search", {"alice"}),
    ("mia", "mail.logging.request", "search", {"mia"}),
    ("bob", "mail.logging.request", "read Alice's", DENIED),
    ("carla", "mail.logging.request", "search", DENIED),
    ("bob", "mail.logging.import", "search", {"bob"}),
    ("bob", "mail.logging.import", "read Alice's", DENIED),
    ("carla", "mail.message", "read track_opens of the email she received", False),
    ("carla", "res.partner", "mail_tracking_composer_state (her contact)", DENIED),
    ("bob", "bus", "engagement of deal: author's channel only", {"alice"}),
    ("bob", "bus", "record channel payload keys", {"message_id", "refresh"}),
    ("alice", "mail.tracking.api.send", "search", DENIED),
    ("alice", "mail.tracking.api.usage", "search", DENIED),
]


@tagged("post_install", "-at_install")
class TestAccessMatrix(TrackingCase, WebsocketCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        cls.company_a = env.company
        cls.company_b = env["res.company"].create({"name": "Other Company"})
        # salespeople who may export lists, as the web client's export needs
        salesman = "sales_team.group_sale_salesman,base.group_allow_export"
        manager = "sales_team.group_sale_manager,base.group_allow_export"
        both = {"company_id": cls.company_a.id, "company_ids": [(6, 0, (cls.company_a | cls.company_b).ids)]}
        cls.users = {
            "alice": new_test_user(env, login="mtx_alice", groups=salesman, name="Alice Sales",
                                   email="alice@mycompany.example"),
            "bob": new_test_user(env, login="mtx_bob", groups=salesman, name="Bob Sales",
                                 email="bob@mycompany.example"),
            "dan": new_test_user(env, login="mtx_dan", groups=salesman, name="Dan Sales"),
            "mia": new_test_user(env, login="mtx_mia", groups=manager, name="Mia Manager"),
            "max": new_test_user(env, login="mtx_max", groups=manager, name="Max Both", **both),
            "olga": new_test_user(env, login="mtx_olga", groups=salesman, name="Olga Both", **both),
        }
        cls.acme, cls.carla = cls.create_customer_company()
        cls.users["carla"] = new_test_user(env, login="mtx_carla", groups="base.group_portal",
                                           partner_id=cls.carla.id, email="carla@acme.example")
        cls.users["public"] = env.ref("base.public_user")
        cls.alice_deal = env["crm.lead"].create({
            "name": "Acme 250k", "type": "opportunity", "partner_id": cls.carla.id,
            "user_id": cls.users["alice"].id, "company_id": cls.company_a.id})
        cls.bob_deal = env["crm.lead"].create({
            "name": "Acme support", "type": "opportunity", "partner_id": cls.acme.id,
            "user_id": cls.users["bob"].id, "company_id": cls.company_a.id})
        alice, mia = cls.users["alice"], cls.users["mia"]

        def post(record, user, key, **kwargs):
            return record.with_user(user).with_context(mail_notify_force_send=False).message_post(
                body=BODY, subject=SUBJECTS[key], partner_ids=cls.carla.ids, message_type="comment",
                subtype_xmlid="mail.mt_comment", **kwargs)

        cls.emails = {
            "deal": post(cls.alice_deal, alice, "deal", log_email=True),
            "contact": post(cls.carla, alice, "contact", log_email=True,
                            logged_record_refs=[("crm.lead", cls.alice_deal.id)]),
            "bob_deal": post(cls.bob_deal, mia, "bob_deal", log_email=False),
        }
        messages = env["mail.message"].browse([message.id for message in cls.emails.values()])
        tokens = {}
        mails = env["mail.mail"].sudo().search([("mail_message_id", "in", messages.ids)])
        for mail_id, email_list in mails._prepare_as_delivered().items():
            for values in email_list:
                if "carla@acme.example" in values["email_to_normalized"]:
                    tokens[mails.browse(mail_id).mail_message_id.id] = cls.token_of_body(values["body"])
        env.flush_all()
        env.cr.execute("UPDATE mail_tracked_recipient SET sent_date = sent_date - interval '1 hour' "
                       "WHERE message_id = ANY(%s)", [messages.ids])
        env.invalidate_all()
        for token in tokens.values():
            env["mail.tracked.event"]._record_open(token, "203.0.113.9", MAIL_CLIENT)
        env.flush_all()
        env.cr.execute("UPDATE mail_tracked_event SET event_date = event_date - interval '1 hour' "
                       "WHERE recipient_id IN (SELECT id FROM mail_tracked_recipient WHERE message_id = ANY(%s))",
                       [messages.ids])
        env.invalidate_all()
        cls.tokens = tokens
        cls.key_of_message = {message.id: key for key, message in cls.emails.items()}
        Recipient = env["mail.tracked.recipient"].sudo()
        cls.recipients = Recipient.search([("message_id", "in", messages.ids)])
        cls.events = cls.recipients.event_ids
        cls.engagement = env["mail.tracked.engagement"].sudo().search([("message_id", "in", messages.ids)])
        cls.associations_all = env["mail.message.association"].sudo().search([("message_id", "in", messages.ids)])
        # the data the matrix stands on
        assert len(cls.recipients) == 3 and len(cls.events) == 3, (cls.recipients, cls.events)
        assert set(cls.engagement.mapped("kind")) == {"sent", "opened"}, cls.engagement.mapped("kind")
        assert {(a.message_id.id, a.model, a.res_id) for a in cls.associations_all} == {
            (cls.emails["deal"].id, "res.partner", cls.carla.id), (cls.emails["deal"].id, "res.partner", cls.acme.id),
            (cls.emails["contact"].id, "crm.lead", cls.alice_deal.id),
        }, cls.associations_all.mapped(lambda a: (a.model, a.res_id))
        # Olga's current company shows tracking to readers of any linked record; Acme's does not
        cls.company_b.mail_tracking_visibility = "any"
        cls.checked = []

    @classmethod
    def token_of_body(cls, body):
        from .common import TOKEN_IN_PIXEL
        return TOKEN_IN_PIXEL.search(body).group(1)

    @classmethod
    def tearDownClass(cls):
        _logger.info("P4 access matrix: %s access cases checked (%s listed)", len(cls.checked), len(_cases()))
        super().tearDownClass()

    # ------------------------------------------------------------
    # helpers
    # ------------------------------------------------------------

    def env_of(self, user_key):
        """The environment of a matrix user, in their current company."""
        if user_key == "max_b":
            return self.env(user=self.users["max"], context=dict(self.env.context,
                                                                 allowed_company_ids=[self.company_b.id]))
        if user_key == "max_a":
            return self.env(user=self.users["max"], context=dict(self.env.context,
                                                                 allowed_company_ids=[self.company_a.id]))
        if user_key == "olga":
            return self.env(user=self.users["olga"], context=dict(
                self.env.context, allowed_company_ids=[self.company_b.id, self.company_a.id]))
        return self.env(user=self.users[user_key])

    def login(self, user_key):
        login = self.users[user_key].login
        if user_key == "public":
            self.authenticate(None, None)
        else:
            self.authenticate(login, login)

    def keys(self, records):
        """The matrix emails behind tracking rows, associations or messages."""
        records = records.sudo()
        if records._name == "mail.message":
            ids = records.ids
        elif records._name == "mail.tracked.event":
            ids = records.recipient_id.message_id.ids
        else:
            ids = records.message_id.ids
        return {self.key_of_message[i] for i in ids if i in self.key_of_message}

    def check(self, user, obj, operation, expected, actual):
        self.checked.append((user, obj, operation))
        self.assertEqual(actual, expected, f"{user} / {obj} / {operation}")

    def fixture_rows(self, model):
        return {"mail.tracked.recipient": self.recipients, "mail.tracked.event": self.events,
                "mail.tracked.engagement": self.engagement,
                "mail.message.association": self.associations_all}[model]

    def read_operation(self, env, model, operation):
        """What ``operation`` on ``model`` shows of the matrix emails, or DENIED."""
        rows = self.fixture_rows(model)
        Model = env[model]
        env.invalidate_all()
        try:
            if operation == "search":
                return self.keys(Model.search([("id", "in", rows.ids)]))
            if operation == "search_read":
                return self.keys(Model.browse([row["id"] for row in Model.search_read(
                    [("id", "in", rows.ids)], ["id"])]))
            if operation == "search_count":
                # a count says how many rows: each email has as many rows in the count as in sudo
                count = Model.search_count([("id", "in", rows.ids)])
                per_email = {}
                for row in rows:
                    per_email.setdefault(next(iter(self.keys(row))), 0)
                    per_email[next(iter(self.keys(row)))] += 1
                visible = self.keys(Model.search([("id", "in", rows.ids)]))
                self.assertEqual(count, sum(per_email[key] for key in visible))
                return visible
            if operation == "read_group":
                group_by = "recipient_id" if model == "mail.tracked.event" else "message_id"
                groups = Model.read_group([("id", "in", rows.ids)], [group_by], [group_by])
                ids = [group[group_by][0] for group in groups if group[group_by]]
                if model == "mail.tracked.event":
                    return self.keys(env["mail.tracked.recipient"].sudo().browse(ids))
                return self.keys(env["mail.message"].browse(ids))
            if operation == "name_search":
                found = Model.name_search("", [("id", "in", rows.ids)], limit=100)
                return self.keys(Model.browse([row_id for row_id, _name in found]))
            if operation in ("read", "export_data"):
                # each email's rows asked for by id, as a forged RPC call would
                if not env["ir.model.access"].check(model, "read", raise_exception=False):
                    Model.browse(rows.ids).read(["display_name"])  # raises: the access rights refuse
                seen = set()
                for key in EMAILS:
                    mine = rows.filtered(lambda row, key=key: self.keys(row) == {key}).with_env(env)
                    if not mine:
                        continue
                    try:
                        if operation == "read":
                            mine.read(["display_name"])
                        else:
                            mine.export_data(["display_name"])
                        seen.add(key)
                    except AccessError:
                        continue  # this email's rows are refused: not seen
                return seen
        except AccessError:
            return DENIED
        raise ValueError(operation)

    # ------------------------------------------------------------
    # The matrix
    # ------------------------------------------------------------

    def test_p4_matrix_orm(self):
        """P4: every model of the addon that holds tracking data, through every
        read the ORM offers to RPC, for every user of the matrix."""
        for user, expected in VISIBLE.items():
            env = self.env_of(user)
            for model in TRACKING_MODELS:
                for operation in READ_OPERATIONS:
                    with self.subTest(user=user, model=model, operation=operation), \
                            mute_logger("odoo.models", "odoo.addons.base.models.ir_rule"):
                        self.check(user, model, operation, expected, self.read_operation(env, model, operation))

    def test_p4_matrix_company_shows_any_linked_record(self):
        """P4: the company's wider setting shows tracking to the readers of any
        linked record; only for the emails of that company (Olga's current
        company has it, Acme's has not: she still sees nothing)."""
        self.company_a.mail_tracking_visibility = "any"
        for user, expected in VISIBLE_ANY.items():
            env = self.env_of(user)
            for model in TRACKING_MODELS:
                with self.subTest(user=user, model=model), mute_logger("odoo.models"):
                    self.check(user, model, "search, company shows any linked record", expected,
                               self.read_operation(env, model, "search"))

    def test_p4_matrix_associations(self):
        """L2, P4: where a logged email is logged, for those who may read the email."""
        for user, expected in ASSOCIATIONS_VISIBLE.items():
            env = self.env_of(user)
            for operation in READ_OPERATIONS:
                with self.subTest(user=user, operation=operation), mute_logger("odoo.models"):
                    self.check(user, "mail.message.association", operation, expected,
                               self.read_operation(env, "mail.message.association", operation))
        on_deal = self.associations_all.filtered(lambda a: a.model == "crm.lead")
        for user, expected in (("bob", "Restricted record"), ("alice", "Acme 250k")):
            self.check(user, "mail.message.association", "res_name of Alice's opportunity", expected,
                       on_deal.with_env(self.env_of(user)).res_name)
        with self.assertRaises(AccessError):
            self.env_of("bob")["mail.message.association"].create({
                "message_id": self.emails["contact"].id, "model": "res.partner", "res_id": self.acme.id})
        self.check("bob", "mail.message.association", "create", DENIED, DENIED)

    def test_p4_matrix_statistics(self):
        """N5, P4: a contact's statistics count the emails the reader may see,
        also when someone else computed them earlier in the same transaction."""
        def counted(env, expected):
            try:
                count = self.carla.with_env(env).mail_tracked_count
            except AccessError:
                return DENIED
            return {key for key in EMAILS if key in expected} if count == len(expected) else count

        for user, expected in VISIBLE.items():
            env = self.env_of(user)
            with self.subTest(user=user):
                env.invalidate_all()
                self.check(user, "res.partner stats (Carla)", "mail_tracked_count", expected, counted(env, expected))
                env.invalidate_all()
                self.assertEqual(self.carla.sudo().mail_tracked_count, 3)
                self.check(user, "res.partner stats (Carla)", "after a superuser read", expected,
                           counted(env, expected))

    def test_p4_matrix_writes(self):
        """Tracking rows are written by the recorder only: nobody edits or forges them."""
        recipient = self.recipients.filtered(lambda r: self.keys(r) == {"deal"})
        for user, model, operation, call in (
                ("alice", "mail.tracked.recipient", "write", lambda env: recipient.with_env(env).write(
                    {"state": "clicked"})),
                ("alice", "mail.tracked.recipient", "unlink", lambda env: recipient.with_env(env).unlink()),
                ("alice", "mail.tracked.event", "create", lambda env: env["mail.tracked.event"].create({
                    "recipient_id": recipient.id, "event_type": "click"})),
                ("mia", "mail.tracked.event", "unlink", lambda env: recipient.event_ids.with_env(env).unlink()),
        ):
            with self.subTest(user=user, model=model, operation=operation), mute_logger("odoo.models"):
                with self.assertRaises(AccessError):
                    call(self.env_of(user))
                self.check(user, model, operation, DENIED, DENIED)
        self.assertEqual(recipient.state, "opened")
        self.assertEqual(len(recipient.event_ids), 1)

    def test_p4_logging_on_records_the_author_cannot_read(self):
        """L2, P4: an RPC call cannot put an email on a record its author may
        not read (the composers offer none): Bob's email from Carla's contact,
        asked to be logged on Alice's opportunity, stays off it."""
        bob = self.env_of("bob")
        message = self.carla.with_env(bob).with_context(mail_notify_force_send=False).message_post(
            body=BODY, subject="Bob's note", partner_ids=self.carla.ids, message_type="comment",
            subtype_xmlid="mail.mt_comment", log_email=True,
            logged_record_refs=[("crm.lead", self.alice_deal.id), ("res.partner", self.acme.id),
                                ("crm.lead", 10 ** 8), ("no.such.model", 1), ("crm.lead", "1 OR 1=1")])
        logged_on = {(a.model, a.res_id) for a in self.associations(message)}
        self.assertEqual(logged_on, {("res.partner", self.acme.id)})
        self.check("bob", "message_post logged_record_refs", "log on Alice's opportunity", {"contact"},
                   {"contact"} if ("crm.lead", self.alice_deal.id) not in logged_on else {"contact", "deal"})
        # Alice's opportunity's timeline does not show it, even to Alice
        self.assertNotIn(message, self.env["mail.message"].with_user(self.users["alice"])._message_fetch(
            [("model", "=", "crm.lead"), ("res_id", "=", self.alice_deal.id)])["messages"])

    def test_p4_wizards_on_emails_one_cannot_read(self):
        """The editors of a logged email name it (subject, record) as superuser:
        they open only on an email the user may read."""
        deal = self.emails["deal"]
        for model in ("mail.message.association.wizard", "mail.message.conversation"):
            with self.subTest(model=model), mute_logger("odoo.models"):
                with self.assertRaises(AccessError):
                    self.env_of("bob")[model].create({"message_id": deal.id})
                self.check("bob", model, "open on Alice's email", DENIED, DENIED)
                # nor moved onto it afterwards
                wizard = self.env_of("bob")[model].create({"message_id": self.emails["contact"].id})
                with self.assertRaises(AccessError):
                    wizard.write({"message_id": deal.id})
        wizard = self.env_of("alice")["mail.message.association.wizard"].create({"message_id": deal.id})
        self.check("alice", "mail.message.association.wizard", "open on her email", "Acme deal proposal",
                   wizard.subject)

    def test_p4_never_track_lists(self):
        """T10, L5: a user's personal never-track and never-log lists and other
        addresses are theirs: colleagues neither read nor search them, also
        not through the users' one2many fields, which Odoo searches without
        the list's rules."""
        Exclusion = self.env["mail.address.exclusion"]
        alice_entry = Exclusion.with_env(self.env_of("alice")).create(
            {"pattern": "alice-friend.example", "user_id": self.users["alice"].id})
        log_entry = Exclusion.with_env(self.env_of("alice")).create(
            {"pattern": "alice-family.example", "user_id": self.users["alice"].id, "scope": "log"})
        company_entry = Exclusion.create({"pattern": "competitor.example", "company_id": self.company_a.id})
        self.users["alice"].sudo().mail_logging_sender_emails = "alice.private@example.com"
        owners = {alice_entry.id: "alice", log_entry.id: "alice", company_entry.id: "company"}
        ours = (alice_entry | log_entry | company_entry).ids

        def entries(env):
            return {owners[entry.id] for entry in env["mail.address.exclusion"].search([("id", "in", ours)])}

        for user, expected in (("bob", {"company"}), ("alice", {"company", "alice"}), ("max_b", set())):
            self.check(user, "mail.address.exclusion", "search", expected, entries(self.env_of(user)))
        bob = self.env_of("bob")
        with mute_logger("odoo.models"), mute_logger("odoo.addons.base.models.ir_rule"):
            with self.assertRaises(AccessError):
                alice_entry.with_env(bob).read(["pattern"])
            self.check("bob", "mail.address.exclusion", "read Alice's never-track entry", DENIED, DENIED)
            with self.assertRaises(AccessError):
                Exclusion.with_env(bob).create({"pattern": "rival.example"})
            self.check("bob", "mail.address.exclusion", "create a company entry", DENIED, DENIED)
            with self.assertRaises(AccessError):
                alice_entry.with_env(bob).write({"pattern": "other.example"})
            self.check("bob", "mail.address.exclusion", "write Alice's entry", DENIED, DENIED)
            for operation, domain in (
                    ("search mail_tracking_exclusion_ids in (Alice's entry)",
                     [("mail_tracking_exclusion_ids", "in", alice_entry.ids)]),
                    ("search mail_logging_exclusion_ids != False", [("mail_logging_exclusion_ids", "!=", False)]),
                    ("search mail_tracking_exclusion_ids.pattern",
                     [("mail_tracking_exclusion_ids.pattern", "=", "alice-friend.example")]),
            ):
                try:
                    found = bob["res.users"].search(domain)
                    actual = {user for user, record in self.users.items() if record in found} or set()
                except AccessError:
                    actual = DENIED
                self.check("bob", "res.users", operation, DENIED, actual)
            for field in ("mail_logging_sender_emails", "mail_tracking_feed_seen"):
                try:
                    actual = self.users["alice"].with_env(bob).read([field])[0][field]
                except AccessError:
                    actual = DENIED
                self.check("bob", "res.users", f"read Alice's {field}", DENIED, actual)
        # Alice keeps hers in her preferences, read as the web client reads them
        alice_env = self.env_of("alice")
        me = self.users["alice"].with_env(alice_env)
        values = me.web_read({"mail_tracking_exclusion_ids": {"fields": {"pattern": {}}},
                              "mail_logging_exclusion_ids": {"fields": {"pattern": {}}},
                              "mail_logging_sender_emails": {}})[0]
        self.assertEqual([line["pattern"] for line in values["mail_tracking_exclusion_ids"]], ["alice-friend.example"])
        self.assertEqual([line["pattern"] for line in values["mail_logging_exclusion_ids"]], ["alice-family.example"])
        self.assertEqual(values["mail_logging_sender_emails"], "alice.private@example.com")
        me.write({"mail_tracking_exclusion_ids": [(0, 0, {"pattern": "alice-other.example"})],
                  "mail_logging_sender_emails": "alice.private@example.com\nalice.alias@example.com"})
        self.assertEqual(set(self.users["alice"].mail_tracking_exclusion_ids.mapped("pattern")),
                         {"alice-friend.example", "alice-other.example"})
        self.check("alice", "res.users", "read own never-track list and addresses (preferences)", {"alice"},
                   {"alice"} if values["mail_logging_sender_emails"] else set())

    def test_p4_logging_requests_and_imports(self):
        """L4, L7: what reached the logging address and the imports are their user's."""
        Request = self.env["mail.logging.request"].sudo()
        requests = {key: Request.create({"name": f"{key}'s email", "state": "refused", "refusal": "failed",
                                         "user_id": self.users[key].id})
                    for key in ("alice", "bob", "mia")}
        imports = {key: self.env["mail.logging.import"].sudo().create({"user_id": self.users[key].id})
                   for key in ("alice", "bob")}
        owner = {record.id: key for key, record in requests.items()}
        import_owner = {record.id: key for key, record in imports.items()}
        ids = [record.id for record in requests.values()]
        for user in ("alice", "bob", "mia"):
            found = self.env_of(user)["mail.logging.request"].search([("id", "in", ids)])
            self.check(user, "mail.logging.request", "search", {user}, {owner[r.id] for r in found})
        found = self.env_of("bob")["mail.logging.import"].search([("id", "in", [r.id for r in imports.values()])])
        self.check("bob", "mail.logging.import", "search", {"bob"}, {import_owner[r.id] for r in found})
        with mute_logger("odoo.models", "odoo.addons.base.models.ir_rule"):
            for model, record in (("mail.logging.request", requests["alice"]),
                                  ("mail.logging.import", imports["alice"])):
                with self.assertRaises(AccessError):
                    record.with_env(self.env_of("bob")).read(["name"])
                self.check("bob", model, "read Alice's", DENIED, DENIED)
            with self.assertRaises(AccessError):
                self.env_of("carla")["mail.logging.request"].search([])
            self.check("carla", "mail.logging.request", "search", DENIED, DENIED)

    def test_p4_portal_recipient_reads_the_tracking_switches(self):
        """P4: the recipient, as a portal user, reads the email she received,
        never whether it is tracked (the switches are for the company's users)."""
        carla = self.env_of("carla")
        message = self.emails["contact"].with_env(carla)
        message.read(["body"])  # she may read what she received
        with mute_logger("odoo.models"):
            try:
                values = message.read(["track_opens", "track_clicks"])[0]
                actual = values["track_opens"] or values["track_clicks"]
            except AccessError:
                actual = False
        self.check("carla", "mail.message", "read track_opens of the email she received", False, actual)

    def test_p4_portal_recipient(self):
        """P4, P1: the recipient, as a portal user, learns nothing of the
        composer's tracking state of her own contact."""
        carla = self.env_of("carla")
        with mute_logger("odoo.models"):
            try:
                self.carla.with_env(carla).mail_tracking_composer_state()
                actual = "answered"
            except AccessError:
                actual = DENIED
        self.check("carla", "res.partner", "mail_tracking_composer_state (her contact)", DENIED, actual)

    def test_p4_gmail_api(self):
        """N2, P4: the Gmail extension's feed, called with each user's API key, lists
        their own emails only; prepared sends and rate-limit counters are nobody's to
        read over RPC (the API reads them for their user)."""
        for user, expected in GMAIL_FEED_VISIBLE.items():
            key = self.env["res.users.apikeys"].with_user(self.users[user]).sudo()._generate(None, "Gmail", None)
            self.env.flush_all()
            self.opener.cookies.clear()
            response = self.opener.get(f"{self.base_url()}/email-tracking/api/1/feed?limit=100", timeout=30,
                                       headers={"Authorization": f"Bearer {key}"})
            actual = DENIED if response.status_code != 200 else self.keys(
                self.env["mail.message"].browse([entry["message_id"] for entry in response.json()["entries"]]))
            self.check(user, "/email-tracking/api/1/feed", "GET with the user's API key (N2)", expected, actual)
        with mute_logger("odoo.models", "odoo.addons.base.models.ir_rule"):
            for model in ("mail.tracking.api.send", "mail.tracking.api.usage"):
                with self.assertRaises(AccessError):
                    self.env_of("alice")[model].search([])
                self.check("alice", model, "search", DENIED, DENIED)

    # ------------------------------------------------------------
    # Routes, as each user's browser calls them
    # ------------------------------------------------------------

    def test_p4_matrix_routes(self):
        """P3, P4, N4: the contact's CSV export, the web client's CSV export, the
        chatter and its popover, as each user's browser calls them."""
        for user in ("alice", "bob", "dan", "mia", "carla", "public"):
            expected = VISIBLE[user]
            with self.subTest(user=user):
                self.login(user)
                self.check(user, "/email-tracking/export/<Carla>", "GET (contact's CSV, P3)", expected,
                           self.contact_export())
                self.check(user, "/web/export/csv mail.tracked.recipient", "POST", expected, self.web_export())
                shown = set() if expected == DENIED else expected
                self.check(user, "/mail/thread/messages", "chatter's mailTracking", shown, self.chatter())
                self.check(user, "mail.message", "mail_tracking_fetch_status (call_kw)", shown, self.popover())

    def contact_export(self):
        with mute_logger("odoo.http"):
            response = self.url_open(f"/email-tracking/export/{self.carla.id}", allow_redirects=False)
        if response.status_code != 200:
            return DENIED
        rows = list(csv.reader(io.StringIO(response.text)))[1:]
        by_subject = {subject: key for key, subject in SUBJECTS.items()}
        return {by_subject[row[1]] for row in rows if row[1] in by_subject}

    def web_export(self):
        data = json.dumps({"model": "mail.tracked.recipient", "fields": [
            {"name": "subject", "label": "Subject"}, {"name": "state", "label": "State"}],
            "ids": False, "domain": [], "import_compat": False})
        with mute_logger("odoo.http", "odoo.addons.web.controllers.export"):
            try:
                response = self.url_open("/web/export/csv", data={
                    "data": data, "csrf_token": http.Request.csrf_token(self)}, allow_redirects=False)
            except Exception:  # noqa: BLE001 - no session: no CSRF token either
                return DENIED
        if response.status_code != 200:
            return DENIED
        by_subject = {subject: key for key, subject in SUBJECTS.items()}
        return {by_subject[row[0]] for row in csv.reader(io.StringIO(response.text)) if row and row[0] in by_subject}

    def chatter(self):
        """The matrix emails whose open and click icons the user's chatters show,
        on every record they may open."""
        shown = set()
        for model, res_id in (("res.partner", self.carla.id), ("crm.lead", self.alice_deal.id),
                              ("crm.lead", self.bob_deal.id)):
            try:
                with mute_logger("odoo.http"):
                    result = self.make_jsonrpc_request("/mail/thread/messages", {
                        "thread_model": model, "thread_id": res_id, "limit": 100})
            except Exception:  # noqa: BLE001 - a record the user may not open
                continue
            for data in result["data"].get("mail.message", []):
                tracking = data.get("mailTracking")
                if data["id"] in self.key_of_message and tracking and tracking["recipients"]:
                    shown.add(self.key_of_message[data["id"]])
        return shown

    def popover(self):
        """The chatter's popover, asked for each matrix email by a forged call."""
        shown = set()
        for key, message in self.emails.items():
            try:
                with mute_logger("odoo.http"):
                    result = self.make_jsonrpc_request("/web/dataset/call_kw/mail.message/mail_tracking_fetch_status", {
                        "model": "mail.message", "method": "mail_tracking_fetch_status",
                        "args": [message.ids], "kwargs": {}})
            except Exception:  # noqa: BLE001 - an email the user may not read
                continue
            for data in result.get("mail.message", []):
                if data.get("mailTracking") and data["mailTracking"]["recipients"]:
                    shown.add(key)
        return shown

    # ------------------------------------------------------------
    # The bus
    # ------------------------------------------------------------

    def test_p4_matrix_bus(self):
        """N1, N4, P4: the chatter channels a browser gets when it asks for them
        (over a real websocket), and what an open sends on them."""
        records = {"deal": self.alice_deal, "contact": self.carla, "bob_deal": self.bob_deal}
        requested = [f"{THREAD_CHANNEL_PREFIX}{record._name}/{record.id}" for record in records.values()]
        requested.append(f"{THREAD_CHANNEL_PREFIX}res.partner/{self.users['alice'].partner_id.id}x")
        keys = {hashable(channel_with_db(self.env.cr.dbname, (record, BUS_SUBCHANNEL))): key
                for key, record in records.items()}
        for user in ("alice", "bob", "dan", "mia", "carla", "public"):
            with self.subTest(user=user):
                self.login(user)
                before = set().union(*dispatch._channels_to_ws.values())
                websocket = self.websocket_connect(cookie=f"session_id={self.session.sid}")
                self.subscribe(websocket, requested, self.env["bus.bus"].sudo()._bus_last_id())
                # the server's side of this connection, and the channels it subscribed it to
                connections = set().union(*dispatch._channels_to_ws.values()) - before
                self.assertEqual(len(connections), 1)
                [connection] = connections
                subscribed = {key for channel, key in keys.items() if channel in connection._channels}
                expected = READS_RECORD.get(user, set())
                self.check(user, "bus", "thread channels subscribed", expected, subscribed)
                websocket.close()
                self.wait_remaining_websocket_connections()
        # an open of Alice's deal email: the record's channel says only "changed", the details go
        # to the author alone
        self.env["bus.bus"].sudo().search([]).unlink()
        self.env["mail.tracked.event"]._record_open(self.tokens[self.emails["deal"].id], "198.51.100.7", MAIL_CLIENT)
        self.env.cr.precommit.run()
        rows = self.env["bus.bus"].sudo().search([])
        engagement = [(row.channel, json.loads(row.message)["payload"]) for row in rows
                      if json.loads(row.message)["type"] == BUS_TYPE]
        author_channel = json_dump(channel_with_db(self.env.cr.dbname, self.users["alice"].partner_id))
        record_channel = json_dump(channel_with_db(self.env.cr.dbname, (self.alice_deal, BUS_SUBCHANNEL)))
        detailed = {channel for channel, payload in engagement if "recipient" in payload}
        self.check("bob", "bus", "engagement of deal: author's channel only", {"alice"},
                   {"alice" for channel in detailed if channel == author_channel} | {
                       channel for channel in detailed if channel != author_channel})
        [on_record] = [payload for channel, payload in engagement if channel == record_channel]
        self.check("bob", "bus", "record channel payload keys", {"message_id", "refresh"}, set(on_record))

    def test_p4_matrix_is_complete(self):
        """Every model of the addon is in the matrix, and the matrix counts its cases."""
        Data = self.env["ir.model.data"].sudo()
        model_data = Data.search([("module", "=", "mail_tracking_ext"), ("model", "=", "ir.model")])
        others = set(Data.search([("module", "!=", "mail_tracking_ext"), ("model", "=", "ir.model"),
                                  ("res_id", "in", model_data.mapped("res_id"))]).mapped("res_id"))
        ours = set(self.env["ir.model"].sudo().browse(set(model_data.mapped("res_id")) - others).mapped("model"))
        listed = {case[1] for case in _cases()}
        covered = {
            "mail.tracked.stats.mixin",  # its fields: "res.partner stats (Carla)"
            "mail.tracked.visibility.mixin",  # the rule of the three tracking models
            "mail.tracking.demo",  # private methods only: not callable over RPC
            "mail.tracking.api",  # private methods only; its routes: "/email-tracking/api/1/feed"
        }
        self.assertFalse(ours - listed - covered, "models of the addon missing from the access matrix")
        self.assertGreater(len(_cases()), 250)
