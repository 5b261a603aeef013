import logging

from odoo.tools import SQL, sql

_logger = logging.getLogger(__name__)

MODULE = "mail_tracking_ext"
OLD_MODEL, NEW_MODEL = "mail.tracking.exclusion", "mail.address.exclusion"
OLD_TABLE, NEW_TABLE = "mail_tracking_exclusion", "mail_address_exclusion"
# (model, old name, new name); a stored field's column is renamed too
FIELD_RENAMES = [
    ("res.users", "mail_track_opens_default", "mail_tracking_opens_default"),
    ("res.users", "mail_track_clicks_default", "mail_tracking_clicks_default"),
    ("res.users", "mail_log_default", "mail_logging_default"),
    ("res.users", "mail_log_create_contacts", "mail_logging_create_contacts"),
    ("res.users", "mail_track_opens_in_force", "mail_tracking_opens_in_force"),
    ("res.users", "mail_track_clicks_in_force", "mail_tracking_clicks_in_force"),
    ("res.users", "mail_log_defaults_enforced", "mail_logging_default_enforced"),
    ("res.users", "mail_log_in_force", "mail_logging_default_in_force"),
    ("res.company", "mail_log_enforce_default", "mail_logging_enforce_default"),
    ("res.company", "mail_log_default", "mail_logging_default"),
    ("res.config.settings", "mail_log_enforce_default", "mail_logging_enforce_default"),
    ("res.config.settings", "mail_log_default", "mail_logging_default"),
]
# The users' never-track list keeps its name, beside their never-log list (mail_logging_exclusion_ids)
KEPT_XMLIDS = ["field_res_users__mail_tracking_exclusion_ids"]
# Columns that hold a model's name, where they exist
MODEL_NAME_COLUMNS = [
    ("ir_model_fields", "model"), ("ir_model_fields", "relation"), ("ir_model_data", "model"),
    ("ir_act_window", "res_model"), ("ir_act_server", "model_name"), ("ir_act_report_xml", "model"),
    ("ir_ui_view", "model"), ("ir_filters", "model_id"), ("ir_exports", "resource"),
    ("ir_attachment", "res_model"), ("mail_message", "model"), ("mail_followers", "res_model"),
    ("mail_activity", "res_model"), ("mail_message_subtype", "res_model"), ("mail_template", "model"),
    ("mail_scheduled_message", "model"), ("rating_rating", "res_model"), ("rating_rating", "parent_res_model"),
    ("mail_message_association", "model"), ("mail_tracked_recipient", "model"),
]


def migrate(cr, version):
    """18.0.1.3.0: names say what things are. The never-track and never-log
    lists are mail.address.exclusion (was mail.tracking.exclusion); the users'
    and companies' switches are mail_tracking_* and mail_logging_*.

    Everything holding an old name is renamed before the module loads: table,
    sequence, indexes, constraints, columns, model and field records, their
    external ids, references to the model. Otherwise the update would create
    the new names empty, then delete the old ones with their data (deleting a
    field drops its column, a model its table). A step runs only when the old
    name is there and the new one is not: a second run changes nothing.

    Also does what 18.0.1.2.0 meant to do: its test for the column "reason"
    was always false (a SELECT of no column fetches an empty tuple), so the old
    sentences stayed in a column no longer read and legacy_reason was empty."""
    _rename_model(cr)
    for model, old, new in FIELD_RENAMES:
        _rename_field(cr, model, old, new)
    _keep_legacy_reasons(cr)


def _exists(cr, query):
    cr.execute(query)
    return bool(cr.fetchone())


def _relation_exists(cr, name):
    cr.execute(SQL("SELECT to_regclass(%s)", name))
    return cr.fetchone()[0] is not None


def _rename_model(cr):
    if sql.table_exists(cr, OLD_TABLE) and not sql.table_exists(cr, NEW_TABLE):
        _rename_table(cr)
    if not _exists(cr, SQL("SELECT 1 FROM ir_model WHERE model = %s", OLD_MODEL)):
        return
    if _exists(cr, SQL("SELECT 1 FROM ir_model WHERE model = %s", NEW_MODEL)):
        _logger.warning("Both %s and %s are models: %s is left as it is", OLD_MODEL, NEW_MODEL, OLD_MODEL)
        return
    _logger.info("Renaming model %s to %s", OLD_MODEL, NEW_MODEL)
    cr.execute(SQL("UPDATE ir_model SET model = %s WHERE model = %s", NEW_MODEL, OLD_MODEL))
    for table, column in MODEL_NAME_COLUMNS:
        if sql.column_exists(cr, table, column):
            cr.execute(SQL("UPDATE %s SET %s = %s WHERE %s = %s", SQL.identifier(table), SQL.identifier(column),
                           NEW_MODEL, SQL.identifier(column), OLD_MODEL))
    # reference fields hold "model,id"
    cr.execute("SELECT model, name FROM ir_model_fields WHERE ttype = 'reference' AND store")
    for model, name in cr.fetchall():
        table = model.replace(".", "_")
        if sql.column_exists(cr, table, name):
            cr.execute(SQL("UPDATE %s SET %s = %s || substr(%s, %s) WHERE %s LIKE %s",
                           SQL.identifier(table), SQL.identifier(name), NEW_MODEL, SQL.identifier(name),
                           len(OLD_MODEL) + 1, SQL.identifier(name), f"{OLD_MODEL},%"))
    # constraint records carry the table's name, as the constraints themselves
    cr.execute(SQL("""
        UPDATE ir_model_constraint SET name = %(new)s || substr(name, %(start)s)
         WHERE model = (SELECT id FROM ir_model WHERE model = %(model)s) AND starts_with(name, %(old)s)
    """, new=NEW_TABLE, start=len(OLD_TABLE) + 1, model=NEW_MODEL, old=OLD_TABLE))
    # the module's external ids named after the model: model_, field_, selection__,
    # constraint_, and the access rights, rules, views and actions of its data files
    cr.execute(SQL("""
        UPDATE ir_model_data d SET name = replace(d.name, %(old)s, %(new)s)
         WHERE d.module = %(module)s AND strpos(d.name, %(old)s) > 0 AND d.name != ALL(%(kept)s)
           AND NOT EXISTS (SELECT FROM ir_model_data o
                            WHERE o.module = d.module AND o.name = replace(d.name, %(old)s, %(new)s))
    """, old=OLD_TABLE, new=NEW_TABLE, module=MODULE, kept=KEPT_XMLIDS))


def _rename_table(cr):
    """The table, its id sequence, and the constraints and indexes named after it."""
    _logger.info("Renaming table %s to %s", OLD_TABLE, NEW_TABLE)
    cr.execute(SQL("ALTER TABLE %s RENAME TO %s", SQL.identifier(OLD_TABLE), SQL.identifier(NEW_TABLE)))
    old_seq, new_seq = f"{OLD_TABLE}_id_seq", f"{NEW_TABLE}_id_seq"
    if _relation_exists(cr, old_seq) and not _relation_exists(cr, new_seq):
        cr.execute(SQL("ALTER SEQUENCE %s RENAME TO %s", SQL.identifier(old_seq), SQL.identifier(new_seq)))
    # constraints first: renaming one renames its index too
    cr.execute(SQL("SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND starts_with(conname, %s)",
                   NEW_TABLE, OLD_TABLE))
    for (name,) in cr.fetchall():
        cr.execute(SQL("ALTER TABLE %s RENAME CONSTRAINT %s TO %s", SQL.identifier(NEW_TABLE),
                       SQL.identifier(name), SQL.identifier(NEW_TABLE + name[len(OLD_TABLE):])))
    cr.execute(SQL("""
        SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
         WHERE i.indrelid = %s::regclass AND starts_with(c.relname, %s)
    """, NEW_TABLE, OLD_TABLE))
    for (name,) in cr.fetchall():
        cr.execute(SQL("ALTER INDEX %s RENAME TO %s", SQL.identifier(name),
                       SQL.identifier(NEW_TABLE + name[len(OLD_TABLE):])))


def _rename_field(cr, model, old, new):
    table = model.replace(".", "_")
    if sql.column_exists(cr, table, old):
        if sql.column_exists(cr, table, new):
            _logger.warning("%s has both columns %s and %s: %s is left as it is", table, old, new, old)
            return
        _logger.info("Renaming column %s.%s to %s", table, old, new)
        sql.rename_column(cr, table, old, new)
    if not _exists(cr, SQL("SELECT 1 FROM ir_model_fields WHERE model = %s AND name = %s", model, old)):
        return
    if _exists(cr, SQL("SELECT 1 FROM ir_model_fields WHERE model = %s AND name = %s", model, new)):
        _logger.warning("%s has both fields %s and %s: %s is left as it is", model, old, new, old)
        return
    _logger.info("Renaming field %s.%s to %s", model, old, new)
    cr.execute(SQL("UPDATE ir_model_fields SET name = %s WHERE model = %s AND name = %s", new, model, old))
    cr.execute(SQL("""
        UPDATE ir_model_data d SET name = %(new)s
         WHERE d.module = %(module)s AND d.model = 'ir.model.fields' AND d.name = %(old)s
           AND NOT EXISTS (SELECT FROM ir_model_data o WHERE o.module = d.module AND o.name = %(new)s)
    """, module=MODULE, old=f"field_{table}__{old}", new=f"field_{table}__{new}"))
    cr.execute(SQL("UPDATE ir_attachment SET res_field = %s WHERE res_model = %s AND res_field = %s",
                   new, model, old))
    # saved filters and export lists that name the field
    pattern = rf"\m{old}\M"
    cr.execute(SQL("""
        UPDATE ir_filters SET domain = regexp_replace(domain, %(pattern)s, %(new)s, 'g'),
                              context = regexp_replace(context, %(pattern)s, %(new)s, 'g'),
                              sort = regexp_replace(sort, %(pattern)s, %(new)s, 'g')
         WHERE model_id = %(model)s AND (domain ~ %(pattern)s OR context ~ %(pattern)s OR sort ~ %(pattern)s)
    """, pattern=pattern, new=new, model=model))
    cr.execute(SQL("""
        UPDATE ir_exports_line l SET name = %s FROM ir_exports e
         WHERE e.id = l.export_id AND e.resource = %s AND l.name = %s
    """, new, model, old))


def _keep_legacy_reasons(cr):
    if not sql.column_exists(cr, "mail_logging_request", "reason"):
        return
    if not sql.column_exists(cr, "mail_logging_request", "legacy_reason"):
        # from 18.0.1.1.0: the column becomes legacy_reason, as 18.0.1.2.0 meant
        sql.rename_column(cr, "mail_logging_request", "reason", "legacy_reason")
        return
    # upgraded to 18.0.1.2.0 already: "reason" has not been written since, only read here
    cr.execute("""
        UPDATE mail_logging_request SET legacy_reason = reason
         WHERE legacy_reason IS NULL AND reason IS NOT NULL
    """)
    _logger.info("Moved the reasons of %s refused emails to legacy_reason", cr.rowcount)
    cr.execute("ALTER TABLE mail_logging_request DROP COLUMN reason")
