def migrate(cr, version):
    """18.0.1.2.0: a refused email's reason was stored as a sentence in the language
    of whoever was logged in when it was refused; it is now a code, written in the
    reader's language. The old sentences stay, as they were, for the rows before."""
    cr.execute("""
        SELECT FROM information_schema.columns
         WHERE table_name = 'mail_logging_request' AND column_name = 'reason'
    """)
    if cr.fetchone() is not None:  # a row of no column is an empty tuple
        cr.execute("ALTER TABLE mail_logging_request RENAME COLUMN reason TO legacy_reason")
