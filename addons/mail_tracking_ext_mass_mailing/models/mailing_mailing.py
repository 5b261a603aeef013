from odoo import models


class MailingMailing(models.Model):
    _inherit = "mailing.mailing"

    def _get_opt_out_list(self):
        """Treat the addresses of non-marketing contacts (L3) as opted out,
        whatever the mailing targets: the composer then cancels their emails
        with an 'Opted Out' trace that the mailing's statistics show. As
        superuser and with archived contacts: the flag protects the person,
        whatever the sender may read."""
        opt_out = super()._get_opt_out_list()
        non_marketing = self.env["res.partner"].sudo().with_context(active_test=False)._read_group(
            [("is_non_marketing", "=", True), ("email_normalized", "!=", False)],
            groupby=["email_normalized"],
        )
        return set(opt_out) | {email for (email,) in non_marketing}
