from odoo import api, fields, models


class MailTrackedRecipient(models.Model):
    _inherit = "mail.tracked.recipient"

    task_id = fields.Many2one(
        "project.task", compute="_compute_task_id", store=True, index="btree_not_null")

    @api.depends("model", "res_id")
    def _compute_task_id(self):
        for recipient in self:
            recipient.task_id = recipient.res_id if recipient.model == "project.task" else False
