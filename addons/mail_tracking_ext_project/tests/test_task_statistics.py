from markupsafe import Markup

from odoo.addons.mail_tracking_ext.tests.common import TrackingCase
from odoo.addons.mail_tracking_ext.tools.compat import USER_GROUPS_FIELD
from odoo.tests import tagged


@tagged("post_install", "-at_install")
class TestTaskStatistics(TrackingCase):

    def test_n5_task_shows_its_tracked_emails(self):
        """N5: the emails tracked from a task are counted on the task, and its
        button opens exactly them."""
        self.salesperson[USER_GROUPS_FIELD] += self.env.ref("project.group_project_user")
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
        action = task.action_view_mail_opened_emails()
        listed = self.env["mail.tracked.recipient"].search(action["domain"])
        self.assertEqual(listed.partner_id, self.anna | self.bruno)
        self.assertEqual(listed.task_id, task)
        self.assertEqual(action["context"], {"search_default_opened": 1})

    def test_l2_logged_email_appears_on_the_customer_open_tasks(self):
        """L2: with Project installed, an email logged to a contact also appears
        on the open tasks of the contact's company, not on its closed ones nor
        on tasks the author may not read."""
        self.salesperson[USER_GROUPS_FIELD] += self.env.ref("project.group_project_user")
        company = self.env["res.partner"].create({"name": "Anna's Company", "is_company": True})
        self.anna.parent_id = company
        project = self.env["project.project"].create({"name": "Onboarding", "privacy_visibility": "employees"})
        hidden = self.env["project.project"].create({"name": "Board only", "privacy_visibility": "followers"})
        open_task, done_task, hidden_task = self.env["project.task"].create([
            {"name": "Kick-off", "project_id": project.id, "partner_id": company.id},
            {"name": "Contract", "project_id": project.id, "partner_id": company.id, "state": "1_done"},
            {"name": "Board memo", "project_id": hidden.id, "partner_id": company.id},
        ])
        message = self.post_email(self.anna, Markup("<p>Agenda</p>"), log_email=True)
        logged_on = {(association.model, association.res_id) for association in self.associations(message)}
        self.assertIn(("project.task", open_task.id), logged_on)
        self.assertNotIn(("project.task", done_task.id), logged_on)
        self.assertNotIn(("project.task", hidden_task.id), logged_on)
        self.assertIn(("res.partner", company.id), logged_on)
