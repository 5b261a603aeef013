from markupsafe import Markup

from odoo.addons.mail_tracking_ext.tests.common import TrackingCase
from odoo.tests import tagged


@tagged("post_install", "-at_install")
class TestTaskStatistics(TrackingCase):

    def test_n5_task_shows_its_tracked_emails(self):
        """N5: the emails tracked from a task are counted on the task, and its
        button opens exactly them."""
        self.salesperson.groups_id += self.env.ref("project.group_project_user")
        project = self.env["project.project"].create({"name": "Onboarding"})
        task = self.env["project.task"].create({"name": "Kick-off", "project_id": project.id})
        self.assertEqual(task.mail_tracked_count, 0)
        message = self.post_email(self.anna | self.bruno, Markup("<p>Agenda</p>"), record=task)
        anna_body = self.outgoing(message)["anna@customer.example"]["body"]
        self.url_open(f"/email-tracking/open/{self.token_of(anna_body)}.gif")
        self.post_email(self.anna, Markup("<p>Lead email</p>"))  # another record's email
        task.invalidate_recordset()
        self.assertEqual(task.mail_tracked_count, 2)
        self.assertEqual(task.mail_tracked_open_rate, 50)
        self.assertTrue(task.mail_tracked_last_open)
        action = task.with_context(mail_tracking_filter="opened").action_view_mail_tracked_emails()
        listed = self.env["mail.tracked.recipient"].search(action["domain"])
        self.assertEqual(listed.partner_id, self.anna | self.bruno)
        self.assertEqual(listed.task_id, task)
        self.assertEqual(action["context"], {"search_default_opened": 1})
