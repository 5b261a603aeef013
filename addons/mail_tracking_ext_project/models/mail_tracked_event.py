from odoo import fields, models


class MailTrackedEvent(models.Model):
    _inherit = "mail.tracked.event"

    task_id = fields.Many2one(related="recipient_id.task_id")
