from odoo import models


class ProjectTask(models.Model):
    _name = "project.task"
    _inherit = ["project.task", "mail.tracked.stats.mixin"]

    def _mail_tracking_stats_field(self):
        """Statistics of the emails sent from this task (N5)."""
        return "task_id"
