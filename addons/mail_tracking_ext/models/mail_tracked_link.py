from odoo import fields, models


class MailTrackedLink(models.Model):
    """An original link target of a tracked message (SPEC T2).

    The email only carries the recipient's token and the link's ``ref``; the
    click route redirects to the URL stored here, never to one taken from the
    request.
    """
    _name = "mail.tracked.link"
    _description = "Tracked Link"
    _order = "id"
    _rec_name = "url"

    message_id = fields.Many2one(
        "mail.message", "Message", required=True, ondelete="cascade", index=True)
    ref = fields.Char("Reference", required=True, readonly=True)
    url = fields.Char("Original URL", required=True, readonly=True)
    click_count = fields.Integer("Clicks", compute="_compute_click_count")

    _sql_constraints = [
        ("message_ref_unique", "unique(message_id, ref)", "A link reference is unique per message."),
    ]

    def _compute_click_count(self):
        counts = dict(self.env["mail.tracked.event"]._read_group(
            [("link_id", "in", self.ids), ("event_type", "=", "click")],
            ["link_id"], ["__count"]))
        for link in self:
            link.click_count = counts.get(link, 0)

    def _ensure_links(self, message, links):
        """Store the ``{ref: url}`` links of ``message`` that are not stored yet."""
        existing = set(self.sudo().search_fetch(
            [("message_id", "=", message.id), ("ref", "in", list(links))], ["ref"]).mapped("ref"))
        self.sudo().create([
            {"message_id": message.id, "ref": ref, "url": url}
            for ref, url in links.items() if ref not in existing
        ])
