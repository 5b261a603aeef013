from datetime import timedelta

from markupsafe import Markup

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, tagged

from ..tools.compat import ODOO_MAJOR, USER_GROUPS_FIELD
from .common import PDF, TrackingCase


class LoggedEmailCase(TrackingCase):
    """An offer logged on an opportunity, also on its contact's and company's timelines."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.mail_logging_enforce_default = False
        cls.acme, cls.carla = cls.create_customer_company(email="info@acme.example")
        cls.lead.partner_id = cls.carla

    def log_email(self, partners=None, body="<p>Logged offer</p>", subject="Logged offer", **kwargs):
        message = self.post_email(partners or self.carla, Markup(body), subject=subject, log_email=True, **kwargs)
        self.assertIn(("res.partner", self.carla.id), [(a.model, a.res_id) for a in self.associations(message)])
        return message

    def log_from_mailbox(self, **values):
        """An email logged through the logging address: stored as a note of its
        first contact, on the opportunity's timeline too."""
        message = self.env["mail.message"].create({
            "model": "res.partner", "res_id": self.carla.id, "message_type": "email", "log_email": True,
            "subtype_id": self.env.ref("mail.mt_note").id, "is_internal": True, "subject": "From Gmail",
            "body": "<p>Sent from Gmail</p>", "author_id": self.salesperson.partner_id.id,
            "message_id": "<gmail-1@mailbox.example>", **values})
        self.env["mail.message.association"]._associate(message, [self.lead])
        return message

    def send_from(self, action, body=None, partners=()):
        """Send the composer an action opens, as the salesperson would."""
        composer = Form(self.env[action["res_model"]].with_user(self.salesperson).with_context(
            action["context"], mail_notify_force_send=False))
        if body:
            composer.body = body
        for partner in partners:
            composer.partner_ids.add(partner)
        composer.save().action_send_mail()
        return self.env["mail.message"].search([("author_id", "=", self.salesperson.partner_id.id)], limit=1)


@tagged("post_install", "-at_install")
class TestLoggedEmailActions(LoggedEmailCase):
    """L8: reply, forward and expand a logged email from any timeline it is on."""

    def test_l8_reply_from_a_contact_timeline_answers_on_the_email_record(self):
        email = self.log_email()
        action = email.with_user(self.salesperson).action_reply_logged_email("res.partner", self.carla.id)
        context = action["context"]
        self.assertEqual((context["default_model"], context["default_res_ids"]), ("crm.lead", self.lead.ids),
                         "L8: the answer goes on the email's own record")
        self.assertEqual(context["default_parent_id"], email.id)
        self.assertEqual(context["default_subject"], "Re: Logged offer")
        self.assertEqual(context["default_partner_ids"], self.carla.ids, "the email's parties but the user")

        reply = self.send_from(action, body="<p>Thanks, here are the details</p>")
        self.assertEqual((reply.model, reply.res_id), ("crm.lead", self.lead.id))
        # threaded with the email: 18.0 links a reply to the thread's first message, 19.0 to the
        # message it answers
        self.assertEqual(reply.parent_id, email if ODOO_MAJOR >= 19 else email.parent_id or email,
                         "threaded with the email")
        self.assertEqual(reply.subject, "Re: Logged offer")
        sent = self.outgoing(reply)["carla@acme.example"]
        self.assertEqual(sent["subject"], "Re: Logged offer")
        self.assertEqual(sent["headers"]["In-Reply-To"], email.message_id)
        self.assertIn(email.message_id, sent["references"].split())
        self.assertEqual(sent["references"].split()[-1], reply.message_id)

        again = reply.with_user(self.salesperson).action_reply_logged_email()
        self.assertEqual(again["context"]["default_subject"], "Re: Logged offer", "L8: never 'Re: Re:'")

    def test_l8_reply_to_a_received_email_answers_its_author(self):
        email = self.env["mail.message"].create({
            "model": "crm.lead", "res_id": self.lead.id, "message_type": "email", "log_email": True,
            "subtype_id": self.env.ref("mail.mt_comment").id, "author_id": self.carla.id,
            "partner_ids": [fields.Command.set((self.salesperson.partner_id | self.bruno).ids)],
            "subject": "RE: Logged offer", "body": "<p>Sounds good</p>",
        })
        context = email.with_user(self.salesperson).action_reply_logged_email()["context"]
        self.assertCountEqual(context["default_partner_ids"], (self.carla | self.bruno).ids)
        self.assertEqual(context["default_subject"], "RE: Logged offer")

    def test_l8_reply_on_the_timeline_when_the_email_record_is_closed(self):
        """L8: who may not write on the email's record answers on the timeline they read it on."""
        colleague_lead = self.env["crm.lead"].create({
            "name": "Their deal", "type": "opportunity", "user_id": self.colleague.id, "partner_id": self.carla.id})
        email = self.log_email(self.carla | self.salesperson.partner_id, record=colleague_lead, user=self.colleague)
        as_salesperson = email.with_user(self.salesperson)
        context = as_salesperson.action_reply_logged_email("res.partner", self.carla.id)["context"]
        self.assertEqual((context["default_model"], context["default_res_ids"]), ("res.partner", self.carla.ids))
        self.assertNotIn("default_parent_id", context)
        self.assertCountEqual(context["default_partner_ids"], (self.carla | self.colleague.partner_id).ids,
                              "its author and recipients but the user")
        with self.assertRaises(AccessError, msg="only a timeline the email is on"):
            as_salesperson.action_reply_logged_email("res.partner", self.bruno.id)

    def test_l8_forward_sends_copies_of_the_attachments(self):
        email = self.log_email(attachments=[("offer.pdf", PDF)])
        original = email.attachment_ids
        self.assertEqual(len(original), 1)
        action = email.with_user(self.salesperson).action_forward_logged_email("res.partner", self.acme.id)
        context = action["context"]
        self.assertEqual(context["default_subject"], "Fwd: Logged offer")
        self.assertNotIn("default_partner_ids", context)
        self.assertNotIn("default_parent_id", context)
        self.assertIn("Forwarded message", context["default_body"])
        self.assertIn("Subject: Logged offer", context["default_body"])
        self.assertIn("carla@acme.example", context["default_body"])
        self.assertIn("<p>Logged offer</p>", context["default_body"])
        copies = self.env["ir.attachment"].browse(context["default_attachment_ids"])
        self.assertNotEqual(copies, original)
        self.assertEqual((copies.res_model, copies.res_id, copies.raw), ("mail.compose.message", 0, PDF))

        forward = self.send_from(action, partners=self.bruno)
        self.assertEqual(forward.attachment_ids, copies)
        self.assertEqual(email.attachment_ids, original, "L8: the original keeps its attachments")
        self.assertEqual((original.res_model, original.res_id, original.raw), ("crm.lead", self.lead.id, PDF))
        sent = self.outgoing(forward)["bruno@buyer.example"]
        self.assertEqual(sent["subject"], "Fwd: Logged offer")
        self.assertEqual([attachment[0] for attachment in sent["attachments"]], ["offer.pdf"])
        self.assertNotIn("In-Reply-To", sent["headers"])

    def test_l8_forward_in_the_user_language(self):
        self.env["res.lang"]._activate_lang("it_IT")
        self.env["ir.module.module"]._load_module_terms(["mail_tracking_ext"], ["it_IT"], overwrite=True)
        self.salesperson.lang = "it_IT"
        email = self.log_email()
        body = email.with_user(self.salesperson).with_context(lang="it_IT").action_forward_logged_email()[
            "context"]["default_body"]
        self.assertIn("Messaggio inoltrato", body)
        self.assertIn("Oggetto: Logged offer", body)

    def test_l8_expand_lists_the_readable_conversation_oldest_first(self):
        """L8: a conversation is what a mail client groups: the same topic once
        "Re:"/"Fwd:" are set aside, on the records the email is on. Odoo threads
        a record flat, so the record's other emails are not part of it."""
        question = self.post_email(self.carla, Markup("<p>Earlier question</p>"), subject="Logged offer")
        email = self.log_email()
        note = self.lead.message_post(body="internal remark", message_type="comment", subtype_xmlid="mail.mt_note")
        other_topic = self.post_email(self.carla, Markup("<p>About the invoice</p>"), subject="Invoice 42")
        answer = self.lead.message_post(
            body=Markup("<p>Her answer</p>"), message_type="email", author_id=self.carla.id,
            subtype_xmlid="mail.mt_comment", parent_id=email.id, subject="RE:  Logged  offer")
        # the same email also reached a colleague's opportunity, with an answer there
        colleague_lead = self.env["crm.lead"].create({
            "name": "Their deal", "type": "opportunity", "user_id": self.colleague.id})
        copy = self.env["mail.message"].create({
            "model": "crm.lead", "res_id": colleague_lead.id, "message_type": "email",
            "message_id": email.message_id, "body": "<p>Logged offer</p>", "author_id": self.carla.id,
            "date": email.date - timedelta(minutes=5)})
        hidden_answer = colleague_lead.message_post(body=Markup("<p>Their answer</p>"), parent_id=copy.id,
                                                    message_type="comment", subtype_xmlid="mail.mt_comment",
                                                    subject="R: Logged offer")
        unrelated = self.post_email(self.bruno, Markup("<p>Another deal</p>"), record=self.env["crm.lead"].create({
            "name": "Other deal", "type": "opportunity", "user_id": self.salesperson.id}))

        action = email.with_user(self.salesperson).action_expand_logged_email()
        conversation = self.env[action["res_model"]].with_user(self.salesperson).browse(action["res_id"])
        self.assertEqual(conversation.conversation_message_ids.ids, (question | email | answer).ids,
                         "L8: the thread oldest first, without notes, notifications or other records")
        self.assertEqual(conversation.conversation_message_ids[:1], question)
        everything = self.env["mail.message"].browse(email.id)._logged_email_conversation()
        self.assertEqual(everything[:1], copy, "the copy elsewhere, older, comes first")
        self.assertIn(hidden_answer, everything)
        self.assertNotIn(note, everything)
        self.assertNotIn(other_topic, everything, "another topic on the same opportunity is another conversation")
        self.assertNotIn(unrelated, everything)
        self.assertFalse((copy | hidden_answer) & conversation.conversation_message_ids,
                         "L8: what the user may not read stays hidden")

    def test_l8_expand_an_email_logged_from_a_mailbox(self):
        """L8: an email logged through the logging address is stored as a note
        (it was not sent from Odoo); its conversation still shows it."""
        logged = self.log_from_mailbox()
        answer = self.carla.message_post(body=Markup("<p>Thanks</p>"), message_type="email",
                                         author_id=self.carla.id, subtype_xmlid="mail.mt_comment",
                                         parent_id=logged.id, subject="Re: From Gmail")
        action = logged.with_user(self.salesperson).action_expand_logged_email()
        conversation = self.env[action["res_model"]].with_user(self.salesperson).browse(action["res_id"])
        self.assertEqual(conversation.conversation_message_ids, logged | answer)

    def test_l8_delete_an_email_logged_from_a_mailbox(self):
        """L8: Odoo's chatter deletes only emails written in Odoo; a logged email's
        author (or whoever may edit its record) deletes it from every timeline,
        with the attachments no other email carries."""
        attachment = self.env["ir.attachment"].create(
            {"name": "offer.pdf", "raw": PDF, "res_model": "res.partner", "res_id": self.carla.id})
        logged = self.log_from_mailbox(attachment_ids=attachment.ids)
        reader = self.env["res.users"].create({
            "name": "Rita Reader", "login": "mtx_rita", "password": "mtx_rita",
            USER_GROUPS_FIELD: [fields.Command.set(self.env.ref("base.group_user").ids)]})

        def chatter_flags(login):
            self.authenticate(login, login)
            result = self.make_jsonrpc_request("/mail/thread/messages", {
                "thread_model": "res.partner", "thread_id": self.carla.id, "limit": 30})
            data = next(data for data in result["data"]["mail.message"] if data["id"] == logged.id)
            return data.get("logEmail"), data.get("logEditable")

        self.assertEqual(chatter_flags("mtx_sales"), (True, True))
        self.assertEqual(chatter_flags("mtx_rita"), (True, False), "a reader is not offered Delete")
        with self.assertRaises(AccessError):
            logged.with_user(reader).action_delete_logged_email()
        self.assertTrue(logged.exists())

        logged.with_user(self.salesperson).action_delete_logged_email()
        self.assertFalse(logged.exists())
        self.assertFalse(attachment.exists())
        self.assertFalse(self.env["mail.message.association"].search([("message_id", "=", logged.id)]))

    def test_l8_n3_an_email_deleted_in_the_chatter_leaves_reports_and_timelines(self):
        """Odoo's chatter deletes an email written in Odoo by emptying it: it then
        leaves the tracking reports and statistics, the other timelines, and the
        conversation, as it left its own timeline."""
        earlier = self.log_email(subject="Logged offer")
        email = self.log_email(body="<p>Re: the offer</p>", subject="Re: Logged offer")
        self.env["mail.mail"].sudo().search([("mail_message_id", "in", (earlier | email).ids)])._prepare_as_delivered()
        self.assertTrue(self.tracked(email))
        Recipient = self.env["mail.tracked.recipient"].with_user(self.salesperson)
        self.assertEqual(Recipient.search_count([("partner_id", "=", self.carla.id)]), 2)
        self.authenticate("mtx_sales", "mtx_sales")
        self.make_jsonrpc_request("/mail/message/update_content", {
            "message_id": email.id, "body": "", "attachment_ids": []})
        email.invalidate_recordset()
        self.assertEqual(email.sudo()._filter_empty(), email, "Odoo keeps the email, emptied")
        self.assertFalse(self.tracked(email))
        self.assertFalse(self.associations(email))
        self.assertEqual(Recipient.search_count([("partner_id", "=", self.carla.id)]), 1)
        self.assertEqual(self.carla.with_user(self.salesperson).mail_tracked_count, 1)
        action = earlier.with_user(self.salesperson).action_expand_logged_email()
        conversation = self.env[action["res_model"]].with_user(self.salesperson).browse(action["res_id"])
        self.assertEqual(conversation.conversation_message_ids, earlier, "no empty card")

    def test_l8_hostile_input(self):
        email = self.log_email()
        outsider_lead = self.env["crm.lead"].create({
            "name": "Their deal", "type": "opportunity", "user_id": self.colleague.id})
        theirs = self.log_email(record=outsider_lead, user=self.colleague)
        attachments = self.env["ir.attachment"].search_count([])
        for method in ("action_reply_logged_email", "action_forward_logged_email", "action_expand_logged_email"):
            with self.assertRaises(AccessError, msg=f"{method}: no access to the email"):
                getattr(theirs.with_user(self.salesperson), method)()
            gone = self.env["mail.message"].browse(email.copy().id)
            gone.unlink()
            with self.assertRaises(UserError, msg=f"{method}: deleted email"):
                getattr(gone.with_user(self.salesperson), method)()
            note = self.lead.message_post(body="not an email", message_type="comment", subtype_xmlid="mail.mt_note")
            with self.assertRaises(UserError, msg=f"{method}: not a logged email"):
                getattr(note.with_user(self.salesperson), method)()
        self.assertEqual(self.env["ir.attachment"].search_count([]), attachments, "nothing copied on refusal")
        self.assertTrue(theirs.exists() and email.exists())


@tagged("post_install", "-at_install")
class TestLoggedEmailActionsTour(LoggedEmailCase):

    def test_l8_delete_from_the_contact_timeline(self):
        logged = self.log_from_mailbox()
        self.start_tour(f"/odoo/contacts/{self.carla.id}", "mail_tracking_ext_logged_email_delete", login="mtx_sales")
        self.assertFalse(logged.exists())

    def test_l8_expand_and_reply_from_the_contact_timeline(self):
        self.post_email(self.carla, Markup("<p>Earlier question</p>"), subject="Logged offer")
        self.log_email(attachments=[("offer.pdf", PDF)])
        self.start_tour(f"/odoo/contacts/{self.carla.id}", "mail_tracking_ext_logged_email_actions",
                        login="mtx_sales")
