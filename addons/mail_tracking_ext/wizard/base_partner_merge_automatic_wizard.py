from odoo import models


class BasePartnerMergeAutomaticWizard(models.TransientModel):
    _inherit = "base.partner.merge.automatic.wizard"

    def _update_reference_fields(self, src_partners, dst_partner):
        """Merged contacts' logged emails go to the contact they are merged into (L2)."""
        result = super()._update_reference_fields(src_partners, dst_partner)
        self.env["mail.message.association"]._move_records(src_partners, dst_partner)
        return result
