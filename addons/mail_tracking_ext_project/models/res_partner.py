from odoo import api, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    @api.model
    def _mail_logging_open_records_domains(self):
        """A customer's logged emails also appear on its open tasks (L2)."""
        return {**super()._mail_logging_open_records_domains(), "project.task": [("is_closed", "=", False)]}
