from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..tools.event_source import NetworkSet, split_networks
from ..tools.recorder import OWN_NETWORKS_KEY


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    mail_tracking_allowed = fields.Boolean(
        related="company_id.mail_tracking_allowed", readonly=False)
    mail_tracking_enforce_defaults = fields.Boolean(
        related="company_id.mail_tracking_enforce_defaults", readonly=False)
    mail_tracking_default_opens = fields.Boolean(
        related="company_id.mail_tracking_default_opens", readonly=False)
    mail_tracking_default_clicks = fields.Boolean(
        related="company_id.mail_tracking_default_clicks", readonly=False)
    mail_tracking_privacy = fields.Boolean(related="company_id.mail_tracking_privacy", readonly=False)
    mail_tracking_anonymous_opens = fields.Boolean(
        related="company_id.mail_tracking_anonymous_opens", readonly=False)
    mail_tracking_optout_link = fields.Boolean(
        related="company_id.mail_tracking_optout_link", readonly=False)
    mail_tracking_visibility = fields.Selection(
        related="company_id.mail_tracking_visibility", readonly=False)
    mail_tracking_retention_days = fields.Integer(
        "Tracking Retention (days)", config_parameter="mail_tracking_ext.retention_days", default=365,
        help="Opens and clicks older than this are deleted every day.")
    mail_tracking_own_networks = fields.Char(
        "Own Mail Gateway Networks", config_parameter=OWN_NETWORKS_KEY,
        help="Networks (CIDR, e.g. 203.0.113.0/24) of your own mail servers and security gateways, separated "
             "by spaces or commas: the opens and clicks they make are a machine's, never counted.")
    mail_logging_enforce_default = fields.Boolean(
        related="company_id.mail_logging_enforce_default", readonly=False)
    mail_logging_default = fields.Boolean(related="company_id.mail_logging_default", readonly=False)
    mail_logging_attachments_allowed = fields.Boolean(
        related="company_id.mail_logging_attachments_allowed", readonly=False)
    mail_logging_attachment_max_mb = fields.Integer(
        related="company_id.mail_logging_attachment_max_mb", readonly=False)
    mail_logging_trusted_servers = fields.Char(
        related="company_id.mail_logging_trusted_servers", readonly=False)
    mail_logging_notify_refusal = fields.Boolean(
        related="company_id.mail_logging_notify_refusal", readonly=False)
    mail_logging_alias_id = fields.Many2one(
        "mail.alias", "Logging Alias", readonly=True,
        default=lambda self: self.env.ref("mail_tracking_ext.mail_logging_alias", raise_if_not_found=False))
    # an alias without a domain is no address anybody can write to: say so
    mail_logging_address = fields.Char("Logging Address", related="mail_logging_alias_id.alias_full_name")
    mail_logging_alias_domain_missing = fields.Boolean(compute="_compute_mail_logging_alias_domain_missing")

    @api.depends("mail_logging_alias_id.alias_domain_id")
    def _compute_mail_logging_alias_domain_missing(self):
        for settings in self:
            settings.mail_logging_alias_domain_missing = bool(
                settings.mail_logging_alias_id and not settings.mail_logging_alias_id.alias_domain_id)

    @api.constrains("mail_tracking_own_networks")
    def _check_mail_tracking_own_networks(self):
        for settings in self:
            for network in split_networks(settings.mail_tracking_own_networks):
                try:
                    NetworkSet([network])
                except ValueError:
                    raise ValidationError(self.env._(
                        "“%(network)s” is not a network: write it as an address with its prefix length, "
                        "e.g. 203.0.113.0/24.", network=network)) from None
