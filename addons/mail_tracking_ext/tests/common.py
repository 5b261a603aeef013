import re
from contextlib import ExitStack, contextmanager
from unittest.mock import patch

from markupsafe import Markup

from odoo.tests import HttpCase, new_test_user

from ..tools.compat import ODOO_MAJOR, ir_mail_server_class

TOKEN_IN_PIXEL = re.compile(r'/email-tracking/open/([A-Za-z0-9_-]+)\.gif')
CLICK_LINK = re.compile(r'href="[^"]*/email-tracking/click/([A-Za-z0-9_-]+)/([0-9a-f]+)"')
# What the tests' requests say they are: a person's mail client (machines are told apart, A1).
MAIL_CLIENT = "Mozilla/5.0 (Windows NT 10.0; rv:128.0) Gecko/20100101 Thunderbird/128.3.0"
# The smallest file a PDF reader accepts: an attachment of logged emails.
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@contextmanager
def smtp_server(send_email, **patch_kwargs):
    """Odoo hands the emails it sends to ``send_email(server, message, ...)``, a stand-in for
    the SMTP layer of ``ir.mail_server`` (``patch_kwargs`` go to ``patch.object``): yields
    the patch. 19.0's mail.mail skips sending altogether in tests unless told not to."""
    server_class = ir_mail_server_class()
    with ExitStack() as stack:
        if ODOO_MAJOR >= 19:
            stack.enter_context(patch.object(server_class, "_disable_send", return_value=False))
            stack.enter_context(patch.object(server_class, "_connect__", return_value=None))
        if send_email is not None:
            patch_kwargs["new"] = send_email
        yield stack.enter_context(patch.object(server_class, "send_email", **patch_kwargs))


def accept_every_email(_server, message, *_args, **_kwargs):
    """An SMTP server that accepts every email, as Odoo's own does in tests."""
    return message["Message-Id"]


class TrackingCase(HttpCase):
    """A salesperson (Sales / User: Own Documents Only) writing from an opportunity
    to contacts, one of whom is also the customer of a colleague's opportunity."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.write({
            "mail_tracking_allowed": True,
            "mail_tracking_enforce_defaults": False,
        })
        cls.salesperson = new_test_user(
            cls.env, login="mtx_sales", groups="sales_team.group_sale_salesman",
            name="Sara Sales", email="sara@mycompany.example")
        cls.colleague = new_test_user(
            cls.env, login="mtx_colleague", groups="sales_team.group_sale_salesman",
            name="Carl Colleague", email="carl@mycompany.example")
        cls.anna, cls.bruno = cls.env["res.partner"].create([
            {"name": "Anna Customer", "email": "anna@customer.example"},
            {"name": "Bruno Buyer", "email": "bruno@buyer.example"},
        ])
        cls.lead = cls.env["crm.lead"].create({
            "name": "Big deal", "type": "opportunity", "user_id": cls.salesperson.id,
            "partner_id": cls.anna.id,
        })
        # as in a sales team: the customer also has a colleague's deal, which Sara may not read
        cls.colleague_lead = cls.env["crm.lead"].create({
            "name": "Colleague's deal", "type": "opportunity", "user_id": cls.colleague.id,
            "partner_id": cls.anna.id,
        })

    @classmethod
    def create_customer_company(cls, **company_values):
        """Acme, a customer company, and Carla, its contact."""
        acme = cls.env["res.partner"].create({"name": "Acme", "is_company": True, **company_values})
        carla = cls.env["res.partner"].create({
            "name": "Carla Contact", "email": "carla@acme.example", "parent_id": acme.id})
        return acme, carla

    def post_email(self, partners, body, user=None, record=None, **kwargs):
        """Post ``body`` as an email from the chatter, keep the mail queued."""
        user = user or self.salesperson
        record = (record or self.lead).with_user(user).with_context(mail_notify_force_send=False)
        return record.message_post(
            body=body, partner_ids=partners.ids, message_type="comment",
            subtype_xmlid="mail.mt_comment", **kwargs)

    def outgoing(self, message, delivered_ago=3600):
        """What each SMTP message of ``message`` will carry, per recipient email;
        its tracked copies count as delivered ``delivered_ago`` seconds ago (a
        person needs time to read and click, A3)."""
        mails = self.env["mail.mail"].sudo().search([("mail_message_id", "=", message.id)])
        outgoing = {
            ", ".join(values["email_to_normalized"]): values
            for email_list in mails._prepare_as_delivered().values() for values in email_list
        }
        self.env.flush_all()
        self.env.cr.execute("""
            UPDATE mail_tracked_recipient SET sent_date = sent_date - make_interval(secs => %s)
             WHERE message_id = %s""", (delivered_ago, message.id))
        self.env.invalidate_all()
        return outgoing

    def url_open(self, url, data=None, files=None, timeout=12, headers=None, allow_redirects=True, head=False,
                 **kwargs):
        """As the recipients' mail clients open the tracked links and pixels."""
        if head and ODOO_MAJOR >= 19:
            # 19.0 takes the HTTP method instead of head=True (which did not follow redirects)
            kwargs.update(method="HEAD")
            allow_redirects = False
        elif head:
            kwargs.update(head=True)
        return super().url_open(url, data=data, files=files, timeout=timeout,
                                headers={"User-Agent": MAIL_CLIENT, **(headers or {})},
                                allow_redirects=allow_redirects, **kwargs)

    def make_jsonrpc_request(self, route, params=None, headers=None, **kwargs):
        """Odoo's mail routes, called with 18.0's parameters; on 19.0 they are passed as
        19.0's routes take them (the tests say what the web client sends once)."""
        if ODOO_MAJOR >= 19 and params:
            params = dict(params)
            if route == "/mail/thread/messages":
                params["fetch_params"] = {key: params.pop(key) for key in list(params)
                                          if key not in ("thread_model", "thread_id")}
            elif route == "/mail/message/post":
                params["post_data"] = dict(params["post_data"])
                for key in ("partner_emails", "partner_additional_values"):
                    if key in params:
                        params["post_data"][key] = params.pop(key)
            elif route == "/mail/message/update_content":
                params = {"message_id": params.pop("message_id"), "update_data": params}
            elif route == "/mail/partner/from_email":
                # 19.0 finds the contacts through a record: any record with a chatter
                params.setdefault("thread_model", "res.partner")
                params.setdefault("thread_id", self.env.user.partner_id.id)
        return super().make_jsonrpc_request(route, params, headers, **kwargs)

    def tracked(self, messages):
        """The tracked copies of ``messages``."""
        return self.env["mail.tracked.recipient"].sudo().search([("message_id", "in", messages.ids)])

    def associations(self, messages):
        """The timelines ``messages`` are logged on besides their own record."""
        return self.env["mail.message.association"].sudo().search([("message_id", "in", messages.ids)])

    def token_of(self, body):
        match = TOKEN_IN_PIXEL.search(body) or CLICK_LINK.search(body)
        return match and match.group(1)


class SentEmailCase(TrackingCase):
    """An email of the salesperson from the opportunity to Anna and Bruno,
    tracked and still queued: Anna's copy, its token and its click links."""
    BODY = Markup('<p>Our proposal</p><a href="https://shop.example/offer">offer</a>')

    def setUp(self):
        super().setUp()
        self.message = self.post_email(self.anna | self.bruno, self.BODY)
        self.anna_body = self.outgoing(self.message)["anna@customer.example"]["body"]
        self.anna_token = self.token_of(self.anna_body)
        self.anna_links = [match.group(0) for match in CLICK_LINK.finditer(self.anna_body)]
        copies = self.tracked(self.message)
        self.anna_tracking = copies.filtered(lambda copy: copy.partner_id == self.anna)
        self.bruno_tracking = copies - self.anna_tracking

    def open_pixel(self, token=None, **kwargs):
        return self.url_open(f"/email-tracking/open/{token or self.anna_token}.gif", **kwargs)

    def click_link(self, index=0, **kwargs):
        href = self.anna_links[index].split('"')[1]
        return self.url_open(href[href.index("/email-tracking/"):], allow_redirects=False, **kwargs)
