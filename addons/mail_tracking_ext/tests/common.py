import re

from markupsafe import Markup

from odoo.tests import HttpCase, new_test_user

TOKEN_IN_PIXEL = re.compile(r'/email-tracking/open/([A-Za-z0-9_-]+)\.gif')
CLICK_LINK = re.compile(r'href="[^"]*/email-tracking/click/([A-Za-z0-9_-]+)/([0-9a-f]+)"')
# What the tests' requests say they are: a person's mail client (machines are told apart, A1).
MAIL_CLIENT = "Mozilla/5.0 (Windows NT 10.0; rv:128.0) Gecko/20100101 Thunderbird/128.3.0"
# The smallest file a PDF reader accepts: an attachment of logged emails.
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


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

    def url_open(self, url, data=None, files=None, timeout=12, headers=None, allow_redirects=True, head=False):
        """As the recipients' mail clients open the tracked links and pixels."""
        return super().url_open(url, data=data, files=files, timeout=timeout,
                                headers={"User-Agent": MAIL_CLIENT, **(headers or {})},
                                allow_redirects=allow_redirects, head=head)

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
