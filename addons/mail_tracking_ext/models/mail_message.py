from odoo import fields, models


class MailMessage(models.Model):
    _inherit = "mail.message"

    track_opens = fields.Boolean(
        "Track Opens", readonly=True, help="Opens were tracked when this email was sent.")
    track_clicks = fields.Boolean(
        "Track Clicks", readonly=True, help="Link clicks were tracked when this email was sent.")
    tracked_recipient_ids = fields.One2many(
        "mail.tracked.recipient", "message_id", "Tracked Recipients", readonly=True)

    def _mail_tracking_status(self):
        """Per-recipient engagement of these messages (T6), in three queries
        whatever the number of messages: ``{message_id: [recipient, ...]}``
        where each recipient is a dict ready for the web client."""
        recipients = self.env["mail.tracked.recipient"].sudo().search(
            [("message_id", "in", self.ids)], order="id")
        events = self.env["mail.tracked.event"].sudo().search_fetch(
            [("recipient_id", "in", recipients.ids)],
            ["recipient_id", "event_type", "event_date", "link_id", "is_inferred"], order="event_date, id")
        urls = dict(events.link_id.mapped(lambda link: (link.id, link.url)))
        per_recipient = {recipient.id: {"opens": [], "clicks": []} for recipient in recipients}
        for event in events:
            history = per_recipient[event.recipient_id.id]
            if event.event_type == "open":
                history["opens"].append({"date": event.event_date, "inferred": event.is_inferred})
            else:
                history["clicks"].append({"date": event.event_date, "url": urls.get(event.link_id.id)})
        status = {message.id: [] for message in self}
        for recipient in recipients:
            history = per_recipient[recipient.id]
            status[recipient.message_id.id].append({
                "id": recipient.id,
                "partner_id": recipient.partner_id.id,
                "name": recipient.partner_id.name or False,
                "email": recipient.email,
                "anonymous": not recipient.partner_id,
                "state": recipient.state,
                "sent_date": recipient.sent_date,
                "first_open_date": recipient.first_open_date,
                "last_open_date": history["opens"][-1]["date"] if history["opens"] else False,
                "open_count": len(history["opens"]),
                "opens": history["opens"],
                "clicks": history["clicks"],
            })
        return status
