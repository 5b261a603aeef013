from odoo.tools import sql

# Indexes of mail_tracked_event that no query needs: the recipient's events are read through
# (recipient_id, event_date), and a source or a flag shared by most rows selects nothing.
UNUSED_INDEXES = (
    "mail_tracked_event__recipient_id_index",
    "mail_tracked_event__source_index",
    "mail_tracked_event__is_counted_index",
)


def migrate(cr, version):
    """18.0.1.5.0: every open and click updated seven indexes; three of them
    served no query and slowed the tracking routes (X1). Odoo keeps the
    indexes of fields that no longer ask for one: they are dropped here."""
    for index in UNUSED_INDEXES:
        sql.drop_index(cr, index, "mail_tracked_event")
