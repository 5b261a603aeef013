from odoo.tools import sql


def migrate(cr, version):
    """18.0.1.4.0: every open and click says who made it, a person or a machine
    (A1), and only a person's count. The events recorded before were not
    classified: they keep counting as they did, marked as recorded before the
    classification; the author's own ones (the column is_sender, replaced by
    the source "sender") stay apart."""
    if not sql.column_exists(cr, "mail_tracked_event", "is_sender"):
        return
    for column, column_type in (("source", "varchar"), ("source_rule", "varchar"), ("is_counted", "boolean")):
        if not sql.column_exists(cr, "mail_tracked_event", column):
            sql.create_column(cr, "mail_tracked_event", column, column_type)
    cr.execute("""
        UPDATE mail_tracked_event
           SET source = CASE WHEN is_sender THEN 'sender' ELSE 'human' END,
               source_rule = CASE WHEN is_sender THEN 'author' ELSE 'legacy' END,
               is_counted = is_sender IS NOT TRUE
         WHERE source IS NULL
    """)
