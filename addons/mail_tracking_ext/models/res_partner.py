from odoo import api, fields, models, tools

# Most recent open opportunities a logged email is associated with, per company (L2).
LOGGED_OPPORTUNITIES_LIMIT = 5


# Context key saying that contacts created now are made for the recipients of an email the
# user logs (L3): Odoo creates them deep in its composers (/mail/partner/from_email, the
# chatter's suggested recipients, the full composer's quick create), with no argument to pass.
LOGGING_NEW_CONTACT_KEY = "mail_logging_new_contact"

# Legal bases that allow tracking a contact individually when the company's
# data-privacy switch is on (P1).
TRACKING_LEGAL_BASES = ("prospect_interest", "customer_interest", "contract", "consent")


class ResPartner(models.Model):
    _name = "res.partner"
    _inherit = ["res.partner", "mail.tracked.stats.mixin"]

    # Privacy (P1-P3)
    legal_basis = fields.Selection([
        ("prospect_interest", "Legitimate interest – prospect/lead"),
        ("customer_interest", "Legitimate interest – existing customer"),
        ("contract", "Performance of a contract"),
        ("consent", "Freely given consent from contact"),
        ("none", "Not applicable"),
    ], "Legal Basis for Processing", tracking=True,
        help="Why the company may process this contact's data. With data privacy on in "
             "Settings, only contacts with a legal basis are tracked individually.")
    do_not_track = fields.Boolean(
        tracking=True, copy=False,
        help="Never record an open or a click of this contact again, including for emails "
             "already sent.")

    def _mail_tracking_opt_out(self):
        """The contact stops all tracking through the link of a tracked email
        (P2): their timeline says they did it, not the public user of the page."""
        for partner in self.filtered(lambda partner: not partner.do_not_track):
            partner.with_context(tracking_disable=True).do_not_track = True
            partner.message_post(
                body=partner.env._("Stopped the tracking of their emails, through the link in a tracked email."),
                author_id=partner.id, message_type="notification", subtype_xmlid="mail.mt_note")

    def _mail_tracking_untracked(self, company):
        """The contacts among these whom a tracked email under ``company``'s
        rules reaches untracked (P1, P2): what the composers name beside
        their tracking switches. Users are never tracked."""
        return self.filtered(lambda partner: partner.partner_share and not partner._is_individually_trackable(company))

    def _is_individually_trackable(self, company):
        """Whether emails to this contact may carry a personal pixel and links."""
        self.ensure_one()
        if self.do_not_track:
            return False
        return not company.mail_tracking_privacy or self.legal_basis in TRACKING_LEGAL_BASES

    def action_mail_tracking_export(self):
        """Download this contact's tracking data as CSV (P3)."""
        self.ensure_one()
        return {"type": "ir.actions.act_url", "url": f"/email-tracking/export/{self.id}", "target": "self"}

    def _mail_tracking_export_rows(self):
        """Every tracked email and event of this contact the user may see."""
        self.ensure_one()
        recipients = self.env["mail.tracked.recipient"].search([("partner_id", "=", self.id)])
        rows = [["sent_date", "subject", "email", "state", "event", "event_date", "url", "network",
                 "user_agent", "inferred", "source"]]
        for recipient in recipients:
            base = [recipient.sent_date, recipient.subject or "", recipient.email, recipient.state]
            rows.append(base + ["sent", recipient.sent_date, "", "", "", "", ""])
            for event in recipient.event_ids.sorted(lambda e: (e.event_date, e.event_type != "open")):
                rows.append(base + [event.event_type, event.event_date, event.url or "", event.ip or "",
                                    event.user_agent or "", event.is_inferred, event.source])
        return rows

    # Logging (L2, L3)
    is_non_marketing = fields.Boolean(
        "Non-Marketing Contact",
        help="Created from a logged email: keep this contact out of marketing campaigns.")

    @api.model_create_multi
    def create(self, vals_list):
        """A contact created for a recipient while the user logs the email
        (L3): keep it out of marketing and give it the sender as salesperson,
        unless the address is on a never-log list (L5)."""
        if self.env.context.get(LOGGING_NEW_CONTACT_KEY) and self.env.user._is_internal():
            excluded = self.env["mail.address.exclusion"]._excluded_emails(
                {tools.email_normalize(vals.get("email") or "") for vals in vals_list} - {False},
                self.env.user, scope="log")
            for vals in vals_list:
                email = tools.email_normalize(vals.get("email") or "")
                if email and email not in excluded and not vals.get("is_company"):
                    vals.setdefault("is_non_marketing", True)
                    vals.setdefault("user_id", self.env.uid)
        return super().create(vals_list)

    def _mail_logging_associated_records(self):
        """Records a logged email to these contacts also belongs to (L2): each
        contact's company and, per company, the most recent of its open
        records of the apps that say so (``_mail_logging_open_records_domains``);
        only those the environment's user may read (P4), so that an email is
        never logged where its author cannot see it. Returns a list of
        recordsets."""
        companies = self.commercial_partner_id._filtered_access("read")
        records = [self._filtered_access("read"), companies]
        if not companies:
            return records
        for model, domain in self._mail_logging_open_records_domains().items():
            if not self.env[model].has_access("read"):
                continue
            for company in companies:
                records.append(self.env[model].search(
                    [("partner_id", "child_of", company.id), *domain],
                    order="create_date desc, id desc", limit=LOGGED_OPPORTUNITIES_LIMIT))
        return records

    @api.model
    def _mail_logging_open_records_domains(self):
        """``{model: domain}`` of the open records of a customer that its
        logged emails also appear on; apps' bridges add theirs (project tasks)."""
        return {"crm.lead": [("type", "=", "opportunity"), ("stage_id.is_won", "=", False)]}

    def _mail_tracking_stats_field(self):
        """Statistics (N5): a company shows the emails of all its contacts."""
        self.ensure_one()
        return "commercial_partner_id" if self.commercial_partner_id == self else "partner_id"
