from collections import defaultdict

from odoo import api, fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    mail_tracking_allowed = fields.Boolean(
        "Allow Email Tracking", default=True,
        help="Users may track opens and clicks of the emails they send to contacts.")
    mail_tracking_enforce_defaults = fields.Boolean(
        "Enforce Tracking Defaults",
        help="Every user starts from the company defaults below and cannot change "
             "their personal defaults.")
    mail_tracking_default_opens = fields.Boolean("Track Opens by Default", default=True)
    mail_tracking_default_clicks = fields.Boolean("Track Clicks by Default", default=True)
    # Privacy (P1, P2)
    mail_tracking_privacy = fields.Boolean(
        "Data Privacy",
        help="Track individually only the contacts that have a legal basis for processing.")
    mail_tracking_anonymous_opens = fields.Boolean(
        "Anonymous Open Measurement",
        help="With data privacy on, the other recipients get a pixel shared by all of them: "
             "the email's open count, never who opened it.")
    mail_tracking_visibility = fields.Selection([
        ("every", "Users who can read every record the email is linked to"),
        ("any", "Users who can read any record the email is linked to"),
    ], "Tracking Visible To", default="every", required=True,
        help="Besides the email's author, who sees the opens and clicks of a tracked email.")
    mail_tracking_optout_link = fields.Boolean(
        "Opt-Out Link",
        help="Add a link to tracked emails that lets the recipient stop all tracking at once.")

    # Logging (L1, L4, L6)
    mail_logging_enforce_default = fields.Boolean(
        "Enforce Logging Default",
        help="Every user's emails start from the company's Log default and users cannot "
             "change their personal default.")
    mail_logging_default = fields.Boolean("Log All Emails by Default", default=True)
    mail_logging_attachments_allowed = fields.Boolean(
        "Log Attachments", default=True,
        help="Logged emails keep their attachments on the CRM timelines.")
    mail_logging_notify_refusal = fields.Boolean(
        "Tell Senders of Refused Emails",
        help="Answer an email the logging address refuses with the reason, so that its sender "
             "knows it is not in the CRM.")
    mail_logging_trusted_servers = fields.Char(
        "Trusted Mail Servers",
        help="The names under which the company's mail servers record the SPF, DKIM and DMARC checks "
             "of incoming email (the first word of their Authentication-Results headers, e.g. "
             "mx.google.com), separated by commas. The logging address accepts an email only if one "
             "of them authenticated its sender's domain, or, when none of them wrote its header, if "
             "the email has a valid DKIM signature of its sender's domain.")
    mail_logging_attachment_max_mb = fields.Integer(
        "Attachment Size Limit (MB)", default=50,
        help="Attachments larger than this are left out of logged emails; the timeline says which.")

    @api.model
    def _mail_rules_company(self, record=None, user=None):
        """The company whose tracking, privacy and logging rules an email
        follows (the one place that decides it): the company of the record it
        is written on or was sent from (``record``: a record or a
        ``mail.message``), as Odoo itself picks a message's company; else the
        company of its author ``user``; else the current company."""
        fallback = user.company_id if user else self.env.company
        if record is not None and record._name == "mail.message":
            return self._mail_rules_companies(record, {record.id: fallback})[record.id]
        if record and isinstance(record, self.pool["mail.thread"]):
            record.ensure_one()
            return record.sudo()._mail_get_companies(default=fallback)[record.id]
        return fallback

    @api.model
    def _mail_rules_companies(self, messages, fallbacks):
        """``_mail_rules_company`` of many emails at once, with one query per
        kind of record they were written on (a send batch, X2): ``{message id:
        company}``, where ``fallbacks`` gives each message's company when its
        record has none (its author's)."""
        companies = {}
        per_model = defaultdict(set)
        for message in messages.sudo():
            if message.record_company_id:
                companies[message.id] = message.record_company_id
            elif message.model in self.env and message.res_id \
                    and isinstance(self.env[message.model], self.pool["mail.thread"]):
                per_model[message.model].add(message.res_id)
        record_companies = {}
        for model, res_ids in per_model.items():
            records = self.env[model].sudo().browse(res_ids).exists()
            record_companies.update(
                ((model, res_id), company) for res_id, company in records._mail_get_companies().items())
        for message in messages.sudo():
            if message.id not in companies:
                companies[message.id] = record_companies.get((message.model, message.res_id)) \
                    or fallbacks[message.id]
        return companies

    def _mail_logging_trusted_authserv_ids(self):
        self.ensure_one()
        return [name.strip() for name in (self.mail_logging_trusted_servers or "").split(",") if name.strip()]

    def _mail_logging_attachment_refusal(self, name, size, inline=False):
        """Why an attachment of ``size`` bytes is left out of logged emails, or
        None when it is logged (L6). Images shown in the body are part of the
        email's text, not attachments."""
        self.ensure_one()
        if inline:
            return None
        if not self.mail_logging_attachments_allowed:
            return self.env._("%(name)s (attachments are not logged)", name=name)
        limit = self.mail_logging_attachment_max_mb
        if limit > 0 and size > limit * 1024 * 1024:
            return self.env._("%(name)s (larger than %(limit)s MB)", name=name, limit=limit)
        return None
