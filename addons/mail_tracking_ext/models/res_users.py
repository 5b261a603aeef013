from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import AccessError, ValidationError
from odoo.tools import email_normalize

from ..tools.compat import store_add_global_values

# Before a user first opens the activity feed, its counter shows this much history (N2).
FEED_UNREAD_DEFAULT_PERIOD = timedelta(days=7)
# The top bar shows "99+" beyond: counting further is wasted on every page load (X3).
FEED_UNREAD_SHOWN = 99
# A user's never-track and never-log lists and other addresses are theirs (T10, L5): their
# preferences show them (SELF_READABLE_FIELDS); colleagues may not search users by them, as
# Odoo searches a one2many by ids without the listed model's rules (P4).
PRIVATE_SEARCH_FIELDS = frozenset(
    {"mail_tracking_exclusion_ids", "mail_logging_exclusion_ids", "mail_logging_sender_emails"})


class ResUsers(models.Model):
    _inherit = "res.users"

    mail_tracking_opens_default = fields.Boolean(
        "Track Opens by Default", default=True,
        help="New emails you write start with 'Track opens' switched on.")
    mail_tracking_clicks_default = fields.Boolean(
        "Track Clicks by Default", default=True,
        help="New emails you write start with 'Track clicks' switched on.")
    mail_tracking_notify = fields.Boolean(
        "Tracking Notifications", default=True,
        help="Be notified when a recipient opens your email or clicks one of its links.")
    mail_tracking_exclusion_ids = fields.One2many(
        "mail.address.exclusion", "user_id", string="Never Track", domain=[("scope", "=", "track")])
    # What a new email starts from, under the company's rules: Preferences show these
    # when the company decides (tracking not allowed, or defaults enforced)
    mail_tracking_defaults_enforced = fields.Boolean(compute="_compute_mail_switches_in_force")
    mail_tracking_opens_in_force = fields.Boolean(
        "Track Opens by Default (in Force)", compute="_compute_mail_switches_in_force")
    mail_tracking_clicks_in_force = fields.Boolean(
        "Track Clicks by Default (in Force)", compute="_compute_mail_switches_in_force")
    # Logging (L1, L3, L4, L5)
    mail_logging_default = fields.Boolean(
        "Log Emails by Default", default=True,
        help="New emails you write start with 'Log' switched on: they also appear on the "
             "timelines of the recipients' contacts, companies and open opportunities.")
    mail_logging_create_contacts = fields.Boolean(
        "Create Contacts When Logging", default=True,
        help="When an email you log through the logging address or an import goes to an address "
             "that is not a contact yet, create the contact (marked non-marketing).")
    mail_logging_exclusion_ids = fields.One2many(
        "mail.address.exclusion", "user_id", string="Never Log", domain=[("scope", "=", "log")],
        context={"default_scope": "log"})
    mail_logging_sender_emails = fields.Text(
        "My Other Addresses", groups="base.group_system",
        help="Other addresses you send email from (aliases, personal mailbox), one per line: "
             "emails from them sent to the company logging address are logged as yours.")
    mail_logging_default_enforced = fields.Boolean(
        "Logging Default Enforced", compute="_compute_mail_switches_in_force")
    mail_logging_default_in_force = fields.Boolean(
        "Log Emails by Default (in Force)", compute="_compute_mail_switches_in_force")
    # Activity feed (N2)
    mail_tracking_feed_seen = fields.Datetime(
        "Email Engagement Seen On", readonly=True, copy=False, groups="base.group_system",
        help="When the user last opened the email engagement feed: newer engagement is unread.")

    @property
    def SELF_READABLE_FIELDS(self):
        return super().SELF_READABLE_FIELDS + [
            "mail_tracking_opens_default", "mail_tracking_clicks_default", "mail_tracking_notify",
            "mail_tracking_exclusion_ids", "mail_tracking_defaults_enforced",
            "mail_tracking_opens_in_force", "mail_tracking_clicks_in_force",
            "mail_logging_default", "mail_logging_create_contacts", "mail_logging_exclusion_ids",
            "mail_logging_sender_emails", "mail_logging_default_enforced", "mail_logging_default_in_force",
            "mail_tracking_feed_seen",
        ]

    @property
    def SELF_WRITEABLE_FIELDS(self):
        return super().SELF_WRITEABLE_FIELDS + [
            "mail_tracking_opens_default", "mail_tracking_clicks_default", "mail_tracking_notify",
            "mail_tracking_exclusion_ids",
            "mail_logging_default", "mail_logging_create_contacts", "mail_logging_exclusion_ids",
            "mail_logging_sender_emails",
        ]

    def _mail_switches_in_force(self, company):
        """The switches a new email of this user starts from under ``company``'s
        rules (T3-T5, L1): ``{track_opens, track_clicks, log_email}``."""
        self.ensure_one()
        if not company.mail_tracking_allowed:
            opens = clicks = False
        elif company.mail_tracking_enforce_defaults:
            opens, clicks = company.mail_tracking_default_opens, company.mail_tracking_default_clicks
        else:
            opens, clicks = self.mail_tracking_opens_default, self.mail_tracking_clicks_default
        log = company.mail_logging_default if company.mail_logging_enforce_default else self.mail_logging_default
        return {"track_opens": opens, "track_clicks": clicks, "log_email": log}

    @api.depends("mail_tracking_opens_default", "mail_tracking_clicks_default", "mail_logging_default")
    @api.depends_context("company")
    def _compute_mail_switches_in_force(self):
        company = self.env["res.company"]._mail_rules_company()
        for user in self:
            switches = user._mail_switches_in_force(company)
            user.mail_tracking_defaults_enforced = (
                not company.mail_tracking_allowed or company.mail_tracking_enforce_defaults)
            user.mail_tracking_opens_in_force = switches["track_opens"]
            user.mail_tracking_clicks_in_force = switches["track_clicks"]
            user.mail_logging_default_enforced = company.mail_logging_enforce_default
            user.mail_logging_default_in_force = switches["log_email"]

    @api.model
    def _search(self, domain, offset=0, limit=None, order=None, **kwargs):
        if not self.env.su and any(
                isinstance(term, list | tuple) and isinstance(term[0], str)
                and term[0].partition(".")[0] in PRIVATE_SEARCH_FIELDS for term in domain or ()):
            raise AccessError(self.env._("Users cannot be searched by their never-track lists or addresses."))
        return super()._search(domain, offset, limit, order, **kwargs)

    @api.constrains("mail_logging_sender_emails")
    def _check_mail_logging_sender_emails(self):
        for user in self:
            for line in (user.mail_logging_sender_emails or "").split():
                if not email_normalize(line.strip(",;")):
                    raise ValidationError(self.env._("“%(address)s” is not an email address.", address=line))

    @api.model
    def _find_by_sender_email(self, email):
        """The internal user who sends from ``email``: their login address or one
        of their declared other addresses (L4)."""
        email = email_normalize(email)
        if not email:
            return self.browse()
        users = self.sudo().search([("share", "=", False), ("email_normalized", "=", email)], limit=1)
        if users:
            return users
        for user in self.sudo().search([("share", "=", False), ("mail_logging_sender_emails", "!=", False)]):
            if email in user._mail_logging_sender_emails():
                return user
        return self.browse()

    def _mail_logging_sender_emails(self):
        """Normalized addresses this user sends from."""
        self.ensure_one()
        emails = {self.email_normalized} | {
            email_normalize(line.strip(",;")) for line in (self.mail_logging_sender_emails or "").split()}
        return {email for email in emails if email}

    # ------------------------------------------------------------
    # Activity feed (N2)
    # ------------------------------------------------------------

    def _init_messaging(self, store):
        result = super()._init_messaging(store)
        if self._is_internal():
            store_add_global_values(store, {"mailTrackingFeedUnread": self._mail_tracking_feed_unread()})
        return result

    def _mail_tracking_feed_unread(self):
        """How many opens, clicks and replies of this user's tracked emails
        came since they last opened the feed."""
        self.ensure_one()
        since = self.sudo().mail_tracking_feed_seen or fields.Datetime.now() - FEED_UNREAD_DEFAULT_PERIOD
        # sudo: the author sees their own emails' engagement (P4), no need to check it row by row
        return self.env["mail.tracked.engagement"].sudo().search_count([
            ("author_id", "=", self.partner_id.id), ("kind", "!=", "sent"), ("date", ">", since),
            ("is_counted", "=", True),
        ], limit=FEED_UNREAD_SHOWN + 1)

    @api.model
    def action_mail_tracking_feed(self):
        """Open the current user's engagement feed and mark it read."""
        self.env.user.sudo().mail_tracking_feed_seen = fields.Datetime.now()
        action = self.env["ir.actions.act_window"]._for_xml_id("mail_tracking_ext.mail_tracked_engagement_action")
        action["context"] = {"search_default_mine": 1}
        return action
