def migrate(cr, version):
    """Email imports were throw-away wizards until 18.0.1.1.0: they become
    records of their user, with a required owner. Wizard rows left over from
    before hold nothing worth keeping (L7)."""
    cr.execute("SELECT to_regclass('mail_logging_import') IS NOT NULL")
    if cr.fetchone()[0]:
        cr.execute("DELETE FROM mail_logging_import")
