def migrate(cr, version):
    """18.0.1.1.0: email imports were throw-away wizards and become records of
    their user, with a required owner: the wizard rows left over hold nothing
    worth keeping (L7). Events carry their email's author for the activity
    feed (X3): filled here in one statement, not by the ORM row by row."""
    cr.execute("""
        SELECT to_regclass('mail_logging_import') IS NOT NULL AND NOT EXISTS (
               SELECT FROM information_schema.columns
                WHERE table_name = 'mail_logging_import' AND column_name = 'user_id')
    """)
    if cr.fetchone()[0]:
        # with the files they were given, which would stay otherwise
        cr.execute("DELETE FROM ir_attachment WHERE res_model = 'mail.logging.import'")
        cr.execute("DELETE FROM mail_logging_import")
    cr.execute("SELECT to_regclass('mail_tracked_event') IS NOT NULL")
    if cr.fetchone()[0]:
        cr.execute("ALTER TABLE mail_tracked_event ADD COLUMN IF NOT EXISTS author_id int4")
        cr.execute("""
            UPDATE mail_tracked_event e SET author_id = r.author_id
              FROM mail_tracked_recipient r
             WHERE r.id = e.recipient_id AND e.author_id IS DISTINCT FROM r.author_id
        """)
