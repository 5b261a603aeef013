"""What differs between the Odoo series this addon runs on, 18.0 and 19.0, in one place.

The rest of the addon is one source for both (docs/versions.md): code that needs an API that
changed imports it from here instead of from Odoo, and code that must differ in a class body
tests ``ODOO_MAJOR``. When 18.0 is dropped, each name here becomes its 19.0 branch.
"""

from odoo import release

ODOO_MAJOR = release.version_info[0]

if ODOO_MAJOR >= 19:
    from odoo.fields import Domain

    def AND(domains):  # noqa: N802 - named like Odoo's
        """The conjunction of ``domains``."""
        return Domain.AND(domains)

    def OR(domains):  # noqa: N802 - named like Odoo's
        """The disjunction of ``domains``."""
        return Domain.OR(domains)

    FALSE_DOMAIN = Domain.FALSE
else:
    from odoo.osv.expression import AND, FALSE_DOMAIN, OR  # noqa: F401 # pylint: disable=unused-import


# An email's subject in SQL, for the engagement lines and the live notifications: 18.0 stores
# the name of the email's record on the message (record_name) and falls back to it; 19.0
# computes it without storing it, so an email without a subject has none there.
MESSAGE_SUBJECT_SQL = "m.subject" if ODOO_MAJOR >= 19 else "COALESCE(m.subject, m.record_name)"


def sql_constraints(model_class_namespace, *constraints):
    """Declare SQL constraints ``(name, definition, message)`` in a model's class body:
    18.0 reads them from ``_sql_constraints``, 19.0 from ``models.Constraint`` attributes
    named ``_<name>`` (both give the database constraint ``<table>_<name>``).

    Call it as ``sql_constraints(locals(), ("name_unique", "unique(name)", "message"))``.
    """
    if ODOO_MAJOR >= 19:
        from odoo import models  # noqa: PLC0415

        for name, definition, message in constraints:
            model_class_namespace[f"_{name}"] = models.Constraint(definition, message)
    else:
        model_class_namespace["_sql_constraints"] = list(constraints)


def store_add_values(store, record, values):
    """Send ``values`` (a dict) of one ``record`` to the web client through a mail ``Store``:
    18.0's ``add(record, values)``; 19.0's ``add()`` would call the record's ``_to_store()``
    again, ``add_records_fields()`` only adds the values."""
    if ODOO_MAJOR >= 19:
        return store.add_records_fields(record, values)
    return store.add(record, values)


def store_add_global_values(store, values):
    """Send ``values`` (a dict) to the web client's ``Store`` singleton."""
    if ODOO_MAJOR >= 19:
        return store.add_global_values(**values)
    return store.add(values)


def ir_mail_server_class():
    """Odoo's ``ir.mail_server`` class, for tests that wrap its ``send_email``: 19.0 renamed
    the Python classes of models after their model names (``IrMailServer`` → ``IrMail_Server``)."""
    from odoo.addons.base.models import ir_mail_server  # noqa: PLC0415

    return getattr(ir_mail_server, "IrMail_Server", None) or ir_mail_server.IrMailServer


# The groups of a user: res.users.groups_id in 18.0, group_ids in 19.0
USER_GROUPS_FIELD = "group_ids" if ODOO_MAJOR >= 19 else "groups_id"


def post_access_mode(model, res_id):
    """The access a user needs on record ``res_id`` of ``model`` (a mail.thread) to post on it:
    18.0's ``_get_mail_message_access``, 19.0's ``_mail_get_operation_for_mail_message_operation``
    (per record)."""
    if ODOO_MAJOR >= 19:
        # sudo: the record may be unreadable; the caller checks the access it returns
        record = model.browse(res_id).sudo()
        return record._mail_get_operation_for_mail_message_operation("create")[record]
    return model._get_mail_message_access([res_id], "create")


def chatter_store(messages):
    """The mail ``Store`` of ``messages`` as the chatter gets it for the current user."""
    from odoo.addons.mail.tools.discuss import Store  # noqa: PLC0415

    if ODOO_MAJOR >= 19:
        return Store().add(messages)
    return Store(messages, for_current_user=True)


def postprocess_sent_message(mails, success_pids, success_emails=(), **kwargs):
    """Call ``mail.mail._postprocess_sent_message`` as Odoo's sending does: 19.0 also takes the
    addresses delivered (``success_emails``), which 18.0 refuses."""
    if ODOO_MAJOR >= 19:
        kwargs["success_emails"] = list(success_emails)
    return mails._postprocess_sent_message(success_pids=success_pids, **kwargs)


def registry_in_test_mode(registry):
    """Whether Odoo's test framework holds ``registry`` (its cursors are then the test's):
    18.0 sets ``registry.test_cr``; 19.0 replaces the registry's ``cursor`` method."""
    if ODOO_MAJOR >= 19:
        return "cursor" in vars(registry)
    return registry.test_cr is not None
