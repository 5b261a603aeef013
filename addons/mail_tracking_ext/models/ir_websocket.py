from odoo import models

from ..tools.recorder import BUS_SUBCHANNEL as MAIL_TRACKING_BUS_SUBCHANNEL

# A chatter asks for "mail_tracking_ext.thread/<model>/<id>" (N4).
THREAD_CHANNEL_PREFIX = "mail_tracking_ext.thread/"
# Records one browser tab may follow at once.
THREAD_CHANNEL_LIMIT = 20


class IrWebsocket(models.AbstractModel):
    _inherit = "ir.websocket"

    def _build_bus_channel_list(self, channels):
        """A chatter showing a record receives the live engagement of the
        record's tracked emails (N4), when its user may see them: internal
        users who can read the record (P4)."""
        requested = [channel for channel in channels
                     if isinstance(channel, str) and channel.startswith(THREAD_CHANNEL_PREFIX)]
        if requested:
            channels = [channel for channel in channels if channel not in requested]
            if self.env.user._is_internal():
                channels.extend(self._mail_tracking_thread_channels(requested[:THREAD_CHANNEL_LIMIT]))
        return super()._build_bus_channel_list(channels)

    def _mail_tracking_thread_channels(self, requested):
        channels = []
        for channel in requested:
            model, _sep, res_id = channel[len(THREAD_CHANNEL_PREFIX):].partition("/")
            valid_id = res_id.isascii() and res_id.isdigit() and len(res_id) < 10
            if not valid_id or model not in self.env or not hasattr(self.env[model], "message_ids"):
                continue
            record = self.env[model].browse(int(res_id)).exists()
            if record and record.has_access("read"):
                channels.append((record, MAIL_TRACKING_BUS_SUBCHANNEL))
        return channels
