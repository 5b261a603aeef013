from odoo import api, fields, models


class MailComposeMessage(models.TransientModel):
    _inherit = "mail.compose.message"

    # the switches start from the defaults in force for the user under the rules of the
    # company of the record written on, which the email will follow
    track_opens = fields.Boolean(compute="_compute_mail_switches", store=True, readonly=False, compute_sudo=False)
    track_clicks = fields.Boolean(compute="_compute_mail_switches", store=True, readonly=False, compute_sudo=False)
    mail_tracking_allowed = fields.Boolean(compute="_compute_mail_tracking_allowed")
    mail_tracking_possible = fields.Boolean(compute="_compute_mail_tracking_notice")
    mail_tracking_notice = fields.Char(compute="_compute_mail_tracking_notice")
    # Logging (L1, L2): the records pre-selected from the recipients can be edited before sending
    log_email = fields.Boolean("Log", compute="_compute_mail_switches", store=True, readonly=False, compute_sudo=False,
                               help="Also show this email on the recipients' contacts, companies "
                                    "and open opportunities.")
    # computed as the user (a stored compute runs as superuser by default): only readable records
    log_partner_ids = fields.Many2many(
        "res.partner", "mail_compose_message_log_partner_rel", "wizard_id", "partner_id",
        string="Log on Contacts", compute="_compute_logged_records", store=True, readonly=False,
        compute_sudo=False)
    log_lead_ids = fields.Many2many(
        "crm.lead", "mail_compose_message_log_lead_rel", "wizard_id", "lead_id",
        string="Log on Opportunities", compute="_compute_logged_records", store=True, readonly=False,
        compute_sudo=False, groups="sales_team.group_sale_salesman")

    @api.depends("model", "res_ids", "composition_mode")
    def _compute_mail_tracking_allowed(self):
        for composer in self:
            composer.mail_tracking_allowed = composer._mail_rules_company().mail_tracking_allowed

    @api.depends("model", "res_ids", "composition_mode")
    def _compute_mail_switches(self):
        for composer in self:
            in_force = self.env.user._mail_switches_in_force(composer._mail_rules_company())
            composer.track_opens = in_force["track_opens"]
            composer.track_clicks = in_force["track_clicks"]
            composer.log_email = in_force["log_email"]

    @api.depends("partner_ids", "mail_tracking_allowed", "model", "res_ids")
    def _compute_mail_tracking_notice(self):
        """Say which recipients will not be tracked, and why (P1, P2), under the
        rules of the company the email follows: its record's, as message_post
        decides. Empty when every recipient is tracked."""
        for composer in self:
            state = self.env["mail.thread"]._mail_tracking_untracked_notice(
                composer.partner_ids, composer._mail_rules_company())
            composer.mail_tracking_possible = composer.mail_tracking_allowed and state["possible"]
            composer.mail_tracking_notice = state["notice"]

    def _mail_rules_company(self):
        """The company whose rules the email follows: its record's, when it is
        written on one record, as message_post decides."""
        self.ensure_one()
        res_ids = self._evaluate_res_ids() if self.model and self.res_ids else []
        record = None
        if self.composition_mode == "comment" and len(res_ids) == 1 and self.model in self.env:
            record = self.env[self.model].browse(res_ids)
        return self.env["res.company"]._mail_rules_company(record)

    def _prepare_mail_values_static(self):
        values = super()._prepare_mail_values_static()
        # the switches go to message_post(), which decides whether the post is an email to
        # contacts (mail.thread._is_email_to_contacts); mass mailing ignores them
        if self.composition_mode == "comment" and self.model and hasattr(self.env[self.model], "message_post"):
            values.update(track_opens=self.track_opens and self.mail_tracking_possible,
                          track_clicks=self.track_clicks and self.mail_tracking_possible,
                          log_email=self.log_email)
            if self.log_email:
                values["logged_record_refs"] = self._logged_record_refs()
        return values

    @api.depends("partner_ids", "log_email")
    def _compute_logged_records(self):
        Association = self.env["mail.message.association"]
        for composer in self:
            records = Association._default_records(composer.partner_ids, self.env.user) \
                if composer.log_email else []
            # only what the user may see can be pre-selected; the others are not logged on
            composer.log_partner_ids = self.env["res.partner"].browse([
                record.id for records_ in records if records_._name == "res.partner"
                for record in records_])._filtered_access("read")
            # the opportunities the user reads; assigned as superuser, as 19.0 checks the field's
            # groups even in its own compute, for users without the CRM
            composer.sudo().log_lead_ids = self.env["crm.lead"].browse([
                record.id for records_ in records if records_._name == "crm.lead"
                for record in records_])._filtered_access("read")

    def _logged_record_refs(self):
        """The contacts and opportunities chosen in the composer, plus the default
        records of other apps (tasks, tickets) that the composer does not show."""
        others = [
            record for record in self.env["mail.message.association"]._default_records(
                self.partner_ids, self.env.user)
            if record._name not in ("res.partner", "crm.lead")
        ]
        # sudo: the field is hidden from users without the CRM; what the user chose must be readable
        chosen = (self.log_partner_ids, self.sudo().log_lead_ids.with_env(self.env))
        return [(record._name, record.id) for records in chosen for record in records._filtered_access("read")] \
            + [(record._name, record.id) for records in others for record in records]
