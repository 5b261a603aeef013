from odoo import api, fields, models, tools
from odoo.exceptions import ValidationError
from odoo.tools import email_normalize

from ..tools.compat import sql_constraints


class MailAddressExclusion(models.Model):
    """An address or a domain whose emails are never tracked (T10) or,
    with scope "log", never logged to the CRM (L5).

    Rules without a user are the company's list, kept by administrators;
    rules with a user are that user's personal list. A domain rule matches
    the domain and all its subdomains: ``example.com`` covers
    ``anna@example.com`` and ``bob@eu.example.com``, not ``x@myexample.com``.
    """
    _name = "mail.address.exclusion"
    _description = "Never-Track Rule"
    _order = "pattern"
    _rec_name = "pattern"
    # users edit their own list through their preferences: their commands must
    # run with their rights, not as superuser (SELF_WRITEABLE_FIELDS)
    _allow_sudo_commands = False

    pattern = fields.Char(
        "Address or Domain", required=True,
        help="An email address (anna@example.com) or a domain (example.com).")
    user_id = fields.Many2one(
        "res.users", ondelete="cascade", index=True,
        help="Empty for the company-wide list.")
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, ondelete="cascade")
    scope = fields.Selection(
        [("track", "Never Track"), ("log", "Never Log")], required=True, default="track",
        help="Never Track: no pixel and no link rewriting. Never Log: the email is not logged "
             "to the CRM and no contact is created for the address.")

    sql_constraints(locals(), ("pattern_unique", "unique(pattern, user_id, company_id, scope)",
                               "This address or domain is already in the list."))

    @api.model
    def _normalize_pattern(self, pattern):
        pattern = (pattern or "").strip().lower().lstrip("@")
        if "@" in pattern:
            return email_normalize(pattern) or False
        labels = pattern.split(".")
        if len(labels) < 2 or not all(labels) or any(" " in label for label in labels):
            return False
        return pattern

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if "pattern" in vals:
                vals["pattern"] = self._checked_pattern(vals["pattern"])
        self.env.registry.clear_cache()
        return super().create(vals_list)

    def write(self, vals):
        if "pattern" in vals:
            vals["pattern"] = self._checked_pattern(vals["pattern"])
        self.env.registry.clear_cache()
        return super().write(vals)

    def unlink(self):
        self.env.registry.clear_cache()
        return super().unlink()

    @api.model
    def _checked_pattern(self, pattern):
        normalized = self._normalize_pattern(pattern)
        if not normalized:
            raise ValidationError(self.env._(
                "“%(pattern)s” is neither an email address nor a domain.", pattern=pattern))
        return normalized

    @tools.ormcache("company_id", "user_id", "scope")
    def _patterns(self, company_id, user_id, scope):
        """The rules in force for a user's emails, cached: read on every send.
        The user's own list follows them in every company."""
        return frozenset(self.sudo().search_fetch([
            ("scope", "=", scope),
            "|", ("user_id", "=", user_id), "&", ("user_id", "=", False), ("company_id", "=", company_id),
        ], ["pattern"]).mapped("pattern"))

    @api.model
    def _excluded_emails(self, emails, user, company=None, scope="track"):
        """Return the subset of normalized ``emails`` that must not be tracked
        (or, with ``scope="log"``, logged) for emails of ``user``: the rules of
        ``company`` (by default the user's) plus the user's own."""
        emails = {email for email in emails if email}
        if not emails:
            return set()
        company = company or self.env["res.company"]._mail_rules_company(user=user)
        patterns = self._patterns(company.id, user.id, scope)
        if not patterns:
            return set()
        excluded = set()
        for email in emails:
            domain = email.rpartition("@")[2]
            labels = domain.split(".")
            suffixes = {".".join(labels[i:]) for i in range(len(labels))}
            if email in patterns or suffixes & patterns:
                excluded.add(email)
        return excluded
