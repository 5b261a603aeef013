import re
from datetime import timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from markupsafe import Markup

from odoo import api, fields, models

from ..tools.compat import postprocess_sent_message

PIXEL = re.compile(r"/email-tracking/open/([A-Za-z0-9_-]+)\.gif")
CLICK = re.compile(r"/email-tracking/click/([A-Za-z0-9_-]+)/([0-9a-f]+)")
# What the demo's readers' mail clients look like (documentation addresses of RFC 5737)
THUNDERBIRD = ("198.51.100.23", "Mozilla/5.0 (Windows NT 10.0; rv:128.0) Gecko/20100101 Thunderbird/128.3.0")
IPHONE = ("203.0.113.54", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
                          "like Gecko) Mobile/15E148")
# Machines, as they show in real mailboxes: Apple's privacy proxy, a security gateway (A1)
APPLE_PROXY = ("17.58.63.12", "Mozilla/5.0")
SAFE_LINKS = ("40.107.22.104", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                               "Chrome/120.0.0.0 Safari/537.36")
# The demo company's own mail server, as named in its Authentication-Results headers (L4)
DEMO_MAIL_SERVER = "mx.yourcompany.example"

# (user, opportunity, contact, subject, sent hours ago, [(event, hours ago, reader)], replied hours ago)
DEMO_EMAILS = [
    ("base.user_demo", "crm.crm_case_26", "base.res_partner_address_3", "Your open space: our proposal", 120,
     [("open", 100, THUNDERBIRD), ("open", 50, IPHONE), ("click", 49, IPHONE)], 47),
    ("base.user_demo", "crm.crm_case_18", "base.res_partner_address_13", "Quote for 10 computer desks", 72,
     [("click", 71.999, SAFE_LINKS), ("open", 46, THUNDERBIRD)], None),
    ("base.user_demo", "crm.crm_case_19", "base.res_partner_address_31", "Customizable desk: options", 26,
     [("open", 25.9, APPLE_PROXY)], None),
    ("base.user_demo", "crm.crm_case_14", "base.res_partner_address_4", "Office design: the plans", 6,
     [("open", 1.5, IPHONE), ("click", 1, IPHONE)], None),
    ("base.user_admin", "crm.crm_case_16", "base.res_partner_address_14", "Furniture for Global Solutions", 50,
     [("open", 30, THUNDERBIRD)], None),
]
DEMO_BODY = Markup(
    "<p>Hello %(name)s,</p><p>as promised, here is what we discussed: "
    "<a href='https://www.example.com/proposal'>our proposal</a> and "
    "<a href='https://www.example.com/catalogue'>the catalogue</a>.</p><p>Best regards</p>")


class MailTrackingDemo(models.AbstractModel):
    """Demo data that shows the addon at work (E3): tracked emails of the demo
    salespeople with opens, clicks and a reply, logged emails, statistics and an activity
    feed, made through the addon's own code paths and dated relative to the install.
    Only the SMTP server is played here: the emails are taken as delivered."""
    _name = "mail.tracking.demo"
    _description = "Email Tracking Demo Data"

    @api.model
    def _generate(self):
        now = fields.Datetime.now()
        Recipient = self.env["mail.tracked.recipient"].sudo()
        Recorder = self.env["mail.tracked.event"].sudo()
        last_bus_id = self.env["bus.bus"].sudo()._bus_last_id()
        for user_xmlid, lead_xmlid, contact_xmlid, subject, sent_ago, events, replied_ago in DEMO_EMAILS:
            user = self.env.ref(user_xmlid, raise_if_not_found=False)
            lead = self.env.ref(lead_xmlid, raise_if_not_found=False)
            contact = self.env.ref(contact_xmlid, raise_if_not_found=False)
            if not (user and lead and contact and contact.email):
                continue
            message = lead.with_user(user).with_context(mail_notify_force_send=False).message_post(
                body=DEMO_BODY % {"name": contact.name.split()[0]}, subject=subject, partner_ids=contact.ids,
                message_type="comment", subtype_xmlid="mail.mt_comment", track_opens=True, track_clicks=True,
                log_email=True)
            sent = now - timedelta(hours=sent_ago)
            tokens = self._deliver(message)
            token = tokens.get(contact.id)
            self.env.flush_all()  # what the ORM still holds, before the dates are moved back in SQL
            self.env.cr.execute("UPDATE mail_message SET date = %s WHERE id = %s", (sent, message.id))
            self.env.cr.execute("UPDATE mail_tracked_recipient SET sent_date = %s WHERE message_id = %s",
                                (sent, message.id))
            if not token:
                continue
            refs = [ref for ref, url in (message.sudo().tracked_links or {}).items() if url]  # not the hidden one
            for event, hours_ago, (ip, user_agent) in events:
                if event == "open":
                    Recorder._record_open(token, ip, user_agent)
                else:
                    Recorder._record_click(token, refs[0], ip, user_agent)
                self._backdate_last_event(message, now - timedelta(hours=hours_ago))
            if replied_ago is not None:
                Recipient._record_reply({"references": message.message_id, "email_from": contact.email})
                self.env.flush_all()
                self.env.cr.execute("""
                    UPDATE mail_tracked_recipient SET replied_date = %s
                     WHERE message_id = %s AND replied_date IS NOT NULL
                """, (now - timedelta(hours=replied_ago), message.id))
        self._log_from_a_mailbox(now)
        # these opens and clicks happened days ago: nobody is notified of them at first login
        self.env["bus.bus"].sudo().search([("id", ">", last_bus_id)]).unlink()
        self.env.invalidate_all()

    @api.model
    def _deliver(self, message):
        """Send ``message``'s emails as Odoo does, with an SMTP server that accepts every
        copy: ``{contact id: token of its copy}``."""
        tokens = {}
        mails = self.env["mail.mail"].sudo().search([("mail_message_id", "=", message.id)])
        for mail_id, email_list in mails._prepare_as_delivered().items():
            delivered, delivered_emails = [], []
            for values in email_list:
                delivered_emails.extend(values["email_to"] or [])
                if values["partner_id"]:
                    delivered.append(values["partner_id"].id)
                    if match := PIXEL.search(values["body"]) or CLICK.search(values["body"]):
                        tokens[values["partner_id"].id] = match.group(1)
            mail = mails.browse(mail_id)
            mail.write({"state": "sent"})
            postprocess_sent_message(mail, delivered, delivered_emails)
        return tokens

    @api.model
    def _backdate_last_event(self, message, date):
        """The event just recorded happened at ``date``, and so did the state it brought."""
        self.env.cr.execute("""
            UPDATE mail_tracked_event e SET event_date = %(date)s,
                   delivery_delay = GREATEST(0, EXTRACT(EPOCH FROM %(date)s - r.sent_date))::integer
              FROM mail_tracked_recipient r
             WHERE r.id = e.recipient_id AND e.id IN (SELECT e.id FROM mail_tracked_event e
                            JOIN mail_tracked_recipient r ON r.id = e.recipient_id
                           WHERE r.message_id = %(message)s ORDER BY e.id DESC LIMIT 2)
               AND event_date > %(date)s
        """, {"date": date, "message": message.id})
        self.env.cr.execute("""
            UPDATE mail_tracked_recipient SET first_open_date = %(date)s
             WHERE message_id = %(message)s AND first_open_date > %(date)s
        """, {"date": date, "message": message.id})

    @api.model
    def _log_from_a_mailbox(self, now):
        """An email the demo salesperson sent from Gmail with the logging address in Bcc,
        as the company's mail server hands it to Odoo (L4)."""
        user = self.env.ref("base.user_demo", raise_if_not_found=False)
        contact = self.env.ref("base.res_partner_address_13", raise_if_not_found=False)
        if not (user and user.email and contact and contact.email):
            return
        company = user.company_id
        if not company.mail_logging_trusted_servers:
            company.mail_logging_trusted_servers = DEMO_MAIL_SERVER
        email = EmailMessage()
        email["From"] = f"{user.name} <{user.email}>"
        email["To"] = f"{contact.name} <{contact.email}>"
        email["Subject"] = "Delivery dates for the desks"
        email["Date"] = format_datetime((now - timedelta(hours=30)).replace(tzinfo=timezone.utc))
        email["Message-ID"] = make_msgid(domain="mail.gmail.example")
        domain = user.email.rsplit("@", 1)[1]
        email["Authentication-Results"] = (
            f"{DEMO_MAIL_SERVER}; dkim=pass header.d={domain}; dmarc=pass header.from={domain}")
        email.set_content(
            f"Hello {contact.name.split()[0]},\n\nthe desks can be delivered on the 12th.\n\n{user.name}")
        self.env["mail.logging.request"].sudo()._log_email(email)
