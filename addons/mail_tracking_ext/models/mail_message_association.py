from odoo import api, fields, models, tools
from odoo.exceptions import AccessError, ValidationError

from ..tools.compat import AND, FALSE_DOMAIN, OR, sql_constraints


class MailMessageAssociation(models.Model):
    """A record on whose timeline a logged email also appears (L2).

    A logged email is stored once, as one ``mail.message`` with one body and
    one set of attachments, on its main record; each association adds it to
    the timeline of one more record (contact, company, opportunity, task...).
    """
    _name = "mail.message.association"
    _description = "Logged Email Association"
    _order = "id"
    _rec_name = "res_name"

    message_id = fields.Many2one("mail.message", "Email", required=True, ondelete="cascade", index=True)
    model = fields.Char(required=True, index=True)
    res_id = fields.Many2oneReference("Record ID", model_field="model", required=True, index=True)
    res_name = fields.Char("Record", compute="_compute_res_name", search="_search_res_name")
    model_name = fields.Char("Type", compute="_compute_res_name")

    sql_constraints(locals(), ("message_record_unique", "unique(message_id, model, res_id)",
                               "This email is already on that record's timeline."))

    @api.model_create_multi
    def create(self, vals_list):
        associations = super().create(vals_list)
        if set(associations.mapped("model")) - set(self._associated_models()):
            self.env.registry.clear_cache()  # tracking visibility depends on them (P4)
        return associations

    @api.model
    def _search(self, domain, offset=0, limit=None, order=None, **kwargs):
        """An association names an email and a record: it exists only for the
        users who may read the email (P4). mail.message decides that in Python,
        so it decides among the emails of the matching associations, before
        any limit."""
        if self.env.su:
            return super()._search(domain, offset, limit, order, **kwargs)
        candidates = super()._search(domain)
        readable = self.env["mail.message"]._search([("id", "in", candidates.subselect("message_id"))])
        return super()._search(AND([domain or [], [("message_id", "in", readable)]]),
                               offset, limit, order, **kwargs)

    def _check_access(self, operation):
        result = super()._check_access(operation)
        if result or self.env.su or not self._ids:
            return result
        messages = self.sudo().message_id
        readable = messages.with_env(self.env)._filtered_access("read")
        forbidden = self.sudo().filtered(lambda association: association.message_id not in readable)
        if forbidden:
            return forbidden.with_env(self.env), lambda: AccessError(self.env._(
                "Where an email is logged is visible only to those who may read the email."))
        return None

    @tools.ormcache()
    def _associated_models(self):
        self.env.cr.execute("SELECT DISTINCT model FROM mail_message_association")
        return tuple(model for (model,) in self.env.cr.fetchall())

    def init(self):
        # a timeline looks its logged emails up by record (L2, X3)
        tools.create_index(self.env.cr, "mail_message_association_record_index", self._table, ["res_id", "model"])

    @api.depends("model", "res_id")
    @api.depends_context("uid")
    def _compute_res_name(self):
        """Names of the associated records, a query per model; a record the
        user may not read is not named (P4)."""
        for model, associations in self.grouped("model").items():
            if model not in self.env:  # its app was uninstalled
                associations.res_name = associations.model_name = False
                continue
            records = self.env[model].browse(associations.mapped("res_id")).exists()
            readable = records._filtered_access("read")
            model_name = self.env["ir.model"]._get(model).name
            for association in associations:
                record = records.browse(association.res_id)
                exists = record in records
                association.model_name = exists and model_name
                association.res_name = record.display_name if record in readable else (
                    exists and self.env._("Restricted record"))

    def _search_res_name(self, operator, value):
        """Associations whose record's name matches, as each model searches its
        records' names under the user's own rules (name_search; 19.0 refuses to
        search a computed field that has no search method)."""
        self.env.cr.execute("SELECT DISTINCT model FROM mail_message_association")
        domains = [
            [("model", "=", model), ("res_id", "in", self.env[model]._search([("display_name", operator, value)]))]
            for (model,) in self.env.cr.fetchall() if model in self.env
        ]
        return OR(domains) if domains else FALSE_DOMAIN

    @api.constrains("model")
    def _check_model(self):
        for association in self:
            if association.model not in self.env or not hasattr(self.env[association.model], "message_post"):
                raise ValidationError(self.env._("Emails can only be logged on records that have a timeline."))

    def action_open_record(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": self.model,
            "res_id": self.res_id,
            "view_mode": "form",
        }

    @api.model
    def _forget_records(self, records):
        """Take deleted ``records`` off every logged email: a dangling
        association would hide the email's tracking (P4) and name nothing."""
        self.sudo().search([("model", "=", records._name), ("res_id", "in", records.ids)]).unlink()

    @api.model
    def _move_records(self, records, destination):
        """Move the logged emails of ``records`` to ``destination``'s timeline
        when they are merged into it; each email stays there once."""
        associations = self.sudo().search([("model", "=", records._name), ("res_id", "in", records.ids)])
        present = {association.message_id for association in self.sudo().search(
            [("model", "=", destination._name), ("res_id", "=", destination.id)])}
        redundant = self.sudo()
        for association in associations:
            message = association.message_id
            if message in present or (message.model, message.res_id) == (destination._name, destination.id):
                redundant |= association
            present.add(message)
        redundant.unlink()
        (associations - redundant).write({"res_id": destination.id})

    @api.model
    def _associate(self, message, records):
        """Add ``message`` to the timelines of ``records`` (a list of recordsets
        of any models), skipping its own record and existing associations."""
        existing = {(association.model, association.res_id) for association in message._mail_logging_associations()}
        existing.add((message.model, message.res_id))
        values = []
        for record in records:
            for one in record:
                key = (one._name, one.id)
                if key not in existing:
                    existing.add(key)
                    values.append({"message_id": message.id, "model": one._name, "res_id": one.id})
        return self.sudo().create(values)

    @api.model
    def _loggable_contacts(self, partners, user):
        """``partners`` minus internal users and the never-log lists of ``user`` (L5)."""
        partners = partners.filtered(lambda partner: not partner.user_ids.filtered(lambda u: not u.share))
        excluded = self.env["mail.address.exclusion"]._excluded_emails(
            set(partners.mapped("email_normalized")), user, scope="log")
        return partners.filtered(lambda partner: partner.email_normalized not in excluded)

    @api.model
    def _default_records(self, partners, user):
        """Records an email of ``user`` to ``partners`` is logged on by default
        (L2): only records ``user`` may read."""
        contacts = self._loggable_contacts(partners._origin, user)  # composers hold new records
        return contacts.with_user(user)._mail_logging_associated_records() if contacts else []

    @api.model
    def _associate_posted_email(self, message, record_refs=None):
        """Put an email written in Odoo on the timelines chosen in the composer
        (``record_refs``: [(model, id)]), else on its recipients' default records."""
        if record_refs is None:
            records = self._default_records(message.sudo().partner_ids, self.env.user)
        else:
            records = self._chosen_records(record_refs)
        return self._associate(message, records)

    @api.model
    def _chosen_records(self, record_refs):
        """The records of ``record_refs`` ([(model, id)], chosen in a composer)
        an email of the current user may be logged on, in their order."""
        # only records with a timeline that the author may read: the composers offer no others,
        # and an RPC call must not put an email on a record its author cannot see (P4)
        records = [
            record for model, res_id in record_refs
            if model in self.env and isinstance(self.env[model], self.pool["mail.thread"])
            and str(res_id).isdigit()
            for record in self.env[model].browse(int(res_id)).exists()._filtered_access("read")
        ]
        # an address on a never-log list is never logged, whatever was selected (L5)
        partners = self.env["res.partner"].browse(
            [record.id for record in records if record._name == "res.partner"])
        allowed = self._loggable_contacts(partners.exists(), self.env.user)
        return [record for record in records if record._name != "res.partner" or record in allowed]
