from odoo import api, models
from odoo.exceptions import AccessError

from ..tools.compat import AND


class MailTrackedVisibilityMixin(models.AbstractModel):
    """Who sees a tracked email's opens and clicks (P4), one rule for every
    model that holds them: the email's author, and the users who can read
    every record the email is linked to (the record it was sent from and the
    records it is logged on) or, when the company chooses it in Settings, any
    of them. The rule itself is ``mail.tracked.recipient._visibility_domain``;
    searches, reads and reports apply it in SQL, before any limit."""
    _name = "mail.tracked.visibility.mixin"
    _description = "Tracking Data Visibility"

    @api.model
    def _visibility_domain(self):
        """Records whose tracked email the user may see; models linked to a
        tracked email through ``recipient_id`` need nothing more."""
        return [("recipient_id", "in", self.env["mail.tracked.recipient"]._search([]))]

    @api.model
    def _search(self, domain, offset=0, limit=None, order=None, **kwargs):
        if not self.env.su:
            domain = AND([domain or [], self._visibility_domain()])
        return super()._search(domain, offset, limit, order, **kwargs)

    def _check_access(self, operation):
        result = super()._check_access(operation)
        if result or self.env.su or not self._ids:
            return result
        forbidden = self - self.browse(self._search([("id", "in", self.ids)]))
        if forbidden:
            return forbidden, lambda: AccessError(self.env._(
                "The opens and clicks of an email are visible to its author and to the users who "
                "can read the records it is linked to."))
        return None
