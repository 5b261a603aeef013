from odoo import api, fields, models
from odoo.exceptions import AccessError


class MailMessageAssociationWizard(models.TransientModel):
    """Edit the contacts, companies and opportunities a logged email appears
    on, after it was logged (L2). Associations with other apps' records (tasks,
    tickets) are listed and kept."""
    _name = "mail.message.association.wizard"
    _description = "Edit Logged Email Associations"

    message_id = fields.Many2one("mail.message", "Email", required=True, readonly=True, ondelete="cascade")
    # read as the user, also in an onchange, which the constraint below does not see (P4)
    subject = fields.Char(related="message_id.subject", related_sudo=False)
    # computed as the user (a stored compute runs as superuser by default): only readable records
    partner_ids = fields.Many2many(
        "res.partner", string="Contacts and Companies",
        compute="_compute_selection", store=True, readonly=False, compute_sudo=False)
    lead_ids = fields.Many2many(
        "crm.lead", string="Opportunities", compute="_compute_selection", store=True, readonly=False,
        compute_sudo=False, groups="sales_team.group_sale_salesman")
    can_edit = fields.Boolean(compute="_compute_can_edit")
    other_association_ids = fields.Many2many(
        "mail.message.association", string="Other Records", compute="_compute_other_association_ids")

    @api.constrains("message_id")
    def _check_message_access(self):
        # only on an email the user may read: its name and subject are shown as superuser (P4)
        # sudo(False): 19.0 runs constraints as superuser, the check is the user's
        self.message_id.sudo(False).check_access("read")

    def _readable_message(self):
        """The wizard's email, if the user may read it (an onchange may name any email)."""
        return self.message_id._origin._filtered_access("read")

    @api.depends("message_id")
    def _compute_selection(self):
        for wizard in self:
            associations = wizard._readable_message()._mail_logging_associations()
            wizard.partner_ids = wizard._visible(associations, "res.partner")
            # the opportunities the user reads; assigned as superuser, as 19.0 checks the field's
            # groups even in its own compute, for users without the CRM
            wizard.sudo().lead_ids = wizard._visible(associations, "crm.lead")

    @api.depends("message_id")
    def _compute_can_edit(self):
        for wizard in self:
            wizard.can_edit = bool(wizard._readable_message()._mail_logging_editable())

    def _visible(self, associations, model):
        """The associated records of ``model`` the user may read: only those are
        shown, and only those can be removed."""
        return self.env[model].browse(
            associations.filtered(lambda a: a.model == model).mapped("res_id")).exists()._filtered_access("read")

    @api.depends("message_id")
    def _compute_other_association_ids(self):
        for wizard in self:
            wizard.other_association_ids = wizard._readable_message()._mail_logging_associations().filtered(
                lambda a: a.model not in ("res.partner", "crm.lead"))

    def action_apply(self):
        self.ensure_one()
        message = self.message_id
        message.check_access("read")
        if not message._mail_logging_editable():
            raise AccessError(self.env._(
                "Only the author of this email, whoever may edit %(record)s and administrators "
                "can change where it is logged.", record=message.record_name or self.env._("its record")))
        Association = self.env["mail.message.association"].sudo()
        associations = message._mail_logging_associations()
        # sudo: the field is hidden from users without the CRM, who choose no opportunity
        leads = self.sudo().lead_ids.with_env(self.env)._filtered_access("read")
        chosen = {("res.partner", partner.id) for partner in self.partner_ids} \
            | {("crm.lead", lead.id) for lead in leads}
        visible = {(record._name, record.id) for model in ("res.partner", "crm.lead")
                   for record in self._visible(associations, model)}
        associations.filtered(
            lambda a: (a.model, a.res_id) in visible and (a.model, a.res_id) not in chosen).unlink()
        Association._associate(message, [self.partner_ids._filtered_access("read"), leads])
        return {"type": "ir.actions.act_window_close"}
