"""R6: a database made with mail_tracking_ext 18.0.1.1.0, holding data in every table of
the addon and in every field it adds to Odoo's models, upgrades to this code (``-u``) with
nothing lost: every row and every value is there under the new names, the upgrade logs no
error and deletes none of the addon's models or fields, and the migrated rules and tokens
still work.

The old addon comes from git history (``git archive``); its data is made the way users
made it, on an odoo-bin running that code: a salesperson's tracked and logged email,
opens, clicks and a reply over HTTP and the mail gateway, an email import, never-track
and never-log lists, preferences and company settings. Before and after the upgrade,
``odoo-bin shell`` reads every stored field of the addon through the ORM of the code
then installed; ``RENAMED_MODELS`` and ``RENAMED_FIELDS`` say what the new code calls them.
"""
import base64
import io
import json
import re
import subprocess
import tarfile

import pytest
import requests

from devtools import odoo_runtime as rt
from devtools.mail_catcher import MailCatcher

from e2e_crm import CLICK, PIXEL, Salesperson, create_salesperson, html_part, to_of, unfollow_admin

if rt.ODOO_MAJOR != 18:
    # 19.0.1.5.0 is the addon's first release on 19.0: there is no older 19.0 database to
    # upgrade, and 18.0.1.1.0's code does not run on Odoo 19. An 18.0 database reaches 19.0
    # through Odoo's own upgrade (or OpenUpgrade), not through ``-u`` (docs/versions.md).
    pytest.skip("the upgrade from 18.0.1.1.0 is an 18.0 test: no earlier release exists on "
                f"{rt.ODOO_SERIES}", allow_module_level=True)

MODULE = rt.MODULE
OLD_VERSION = "18.0.1.1.0"
# The last commit at 18.0.1.1.0 (b56cf3a made it; 348f639 made 18.0.1.2.0)
OLD_COMMIT = "2409a256d29e3afe84408a71f857bb938c37d415"

# What the new code calls what 18.0.1.1.0 called, old -> new
RENAMED_MODELS = {
    "mail.tracking.exclusion": "mail.address.exclusion",  # 18.0.1.3.0
}
RENAMED_FIELDS = {
    # 18.0.1.3.0: names say what things are
    ("res.users", "mail_track_opens_default"): "mail_tracking_opens_default",
    ("res.users", "mail_track_clicks_default"): "mail_tracking_clicks_default",
    ("res.users", "mail_log_default"): "mail_logging_default",
    ("res.users", "mail_log_create_contacts"): "mail_logging_create_contacts",
    ("res.company", "mail_log_enforce_default"): "mail_logging_enforce_default",
    ("res.company", "mail_log_default"): "mail_logging_default",
    ("res.users", "mail_log_defaults_enforced"): "mail_logging_default_enforced",  # not stored
    # 18.0.1.2.0: a refusal is a code; the sentences written before stay as they were
    ("mail.logging.request", "reason"): "legacy_reason",
}

PASSWORD = "upgsales-pw"
SALES = "upgsales"
RETENTION_PARAM = "mail_tracking_ext.retention_days"

# Emails imported from files (L7): logged with a new contact, logged on Anna's
# timeline (and her opportunity's), refused (the importer is no party to it)
EML = """\
From: {sender}
To: {to}
Subject: {subject}
Message-ID: <{ref}@upgrade.example>
Date: Tue, 04 Nov 2025 10:00:00 +0000
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

{subject}, as discussed.
"""
REPLY = """\
From: Anna <anna@customer.example>
To: {sender}
Subject: Re: {subject}
Message-ID: <anna-reply@customer.example>
In-Reply-To: {ref}
References: {ref}
Date: Wed, 05 Nov 2025 09:00:00 +0000
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Yes, let us talk.
"""

# ``odoo-bin shell``: every record of the given models (archived ones too) with the given
# fields, m2o as ids; for ``defaults_of``, whether each field holds, on some record, a value
# other than the one a new record gets
SNAPSHOT_SCRIPT = """
import json
spec, defaults_of = json.loads({spec!r}), json.loads({defaults_of!r})
rows, non_default = {{}}, {{}}
for model, names in spec.items():
    records = env[model].with_context(active_test=False).search([], order="id")
    rows[model] = records.read(names, load=None)
for model, names in defaults_of.items():
    defaults = env[model].default_get(names)
    for name in names:
        non_default[model + "." + name] = any(
            (row[name] or None) != (defaults.get(name) or None) for row in rows[model])
print("SNAPSHOT " + json.dumps({{"rows": rows, "non_default": non_default}}, default=str))
"""


def new_model(model):
    return RENAMED_MODELS.get(model, model)


# What the new code holds instead of a value of 18.0.1.1.0, old -> (new name, new value)
CONVERTED_FIELDS = {
    # 18.0.1.4.0: events say who made them (A1); the author's own are the source "sender"
    ("mail.tracked.event", "is_sender"): ("source", lambda is_sender: "sender" if is_sender else "human"),
}


def new_field(model, name):
    if (model, name) in CONVERTED_FIELDS:
        return CONVERTED_FIELDS[model, name][0]
    return RENAMED_FIELDS.get((model, name), name)


def value_now(model, name, value):
    """What a value of 18.0.1.1.0 is for the new code."""
    if (model, name) in CONVERTED_FIELDS:
        return CONVERTED_FIELDS[model, name][1](value)
    return value


# -- running odoo-bin on either code ------------------------------------------------------

def run_on(addons, db, *args, stdin_text="", timeout=600, **kwargs):
    """odoo-bin on ``db`` with ``addons`` in place of this repository's addons/: (rc, log)."""
    cmd = with_addons(rt.odoo_cmd(db, *args, **kwargs), addons)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
                          input=stdin_text, timeout=timeout)
    return proc.returncode, proc.stdout


def with_addons(cmd, addons):
    position = cmd.index("--addons-path") + 1
    return cmd[:position] + [",".join(rt.core_addons_paths() + [addons])] + cmd[position + 1:]


class Server(rt.OdooServer):
    """An odoo-bin serving ``db`` from ``addons``."""

    def __init__(self, db, addons, **kwargs):
        super().__init__(db, extra_args=["--max-cron-threads", "0"], **kwargs)
        self.addons = addons

    def command(self):
        return with_addons(super().command(), self.addons)


def snapshot(addons, db, spec, defaults_of=None):
    script = SNAPSHOT_SCRIPT.format(spec=json.dumps(spec), defaults_of=json.dumps(defaults_of or {}))
    rc, out = run_on(addons, db, "--no-http", subcommand="shell", stdin_text=script)
    rt.assert_clean_run(rc, out, f"reading {db} in odoo-bin shell")
    line = next((line for line in out.splitlines() if line.startswith("SNAPSHOT ")), None)
    assert line, out[-3000:]
    return json.loads(line[len("SNAPSHOT "):])


# -- what the addon owns in a database ----------------------------------------------------

def owned_fields(db):
    """``{model: [field]}``: the stored fields of the addon's models, and those it adds to
    other models (a field's external id belongs to the module that defines it)."""
    rows = rt.query(db, """
        SELECT f.model, f.name FROM ir_model_fields f
          JOIN ir_model_data d ON d.model = 'ir.model.fields' AND d.res_id = f.id AND d.module = %s
          JOIN ir_model m ON m.id = f.model_id
          JOIN pg_class t ON t.relname = replace(f.model, '.', '_') AND t.relkind = 'r'
         WHERE f.store AND f.ttype != 'one2many' AND NOT m.transient
      ORDER BY f.model, f.name
    """, (MODULE,))
    fields = {}
    for model, name in rows:
        fields.setdefault(model, []).append(name)
    return fields


def owned_models(db):
    """Models with a table that only the addon defines (no other module names them)."""
    return {model for (model,) in rt.query(db, """
        SELECT m.model FROM ir_model m
          JOIN pg_class t ON t.relname = replace(m.model, '.', '_') AND t.relkind = 'r'
         WHERE NOT m.transient
           AND EXISTS (SELECT FROM ir_model_data d WHERE d.model = 'ir.model' AND d.res_id = m.id AND d.module = %s)
           AND NOT EXISTS (SELECT FROM ir_model_data d
                            WHERE d.model = 'ir.model' AND d.res_id = m.id AND d.module != %s)
    """, (MODULE, MODULE))}


def relation_tables(db):
    """Many2many tables of the addon's fields on models that are not wizards."""
    return sorted(name for (name,) in rt.query(db, """
        SELECT r.name FROM ir_model_relation r
          JOIN ir_module_module mm ON mm.id = r.module AND mm.name = %s
          JOIN ir_model m ON m.id = r.model AND NOT m.transient
    """, (MODULE,)))


def row_count(db, name):
    return rt.query(db, f'SELECT count(*) FROM "{name}"')[0][0]  # noqa: S608 - our own table names


def by_id(rows):
    return {row["id"]: row for row in rows}


# -- the 18.0.1.1.0 database --------------------------------------------------------------

@pytest.fixture(scope="module")
def old_addons(tmp_path_factory):
    """The addons of OLD_COMMIT, from git history."""
    target = tmp_path_factory.mktemp("addons-" + OLD_VERSION)
    archive = subprocess.run(["git", "-C", rt.REPO_ROOT, "archive", OLD_COMMIT, "addons/"],
                             stdout=subprocess.PIPE, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    addons = str(target / "addons")
    with open(f"{addons}/{MODULE}/__manifest__.py", encoding="utf-8") as fh:
        assert f'"version": "{OLD_VERSION}"' in fh.read(), f"{OLD_COMMIT} is not {MODULE} {OLD_VERSION}"
    return addons


def make_old_data(server, catcher):
    """What users of 18.0.1.1.0 did, as they did it; returns what the checks need."""
    admin = server.rpc
    sales = create_salesperson(server, SALES)
    sales_uid = server.login(SALES, PASSWORD)

    def as_sales(model, method, *args, **kwargs):
        return server.rpc(model, method, *args, login=SALES, password=PASSWORD, **kwargs)

    partners = {name: admin("res.partner", "create", values) for name, values in {
        "anna": {"name": "Anna", "email": "anna@customer.example", "legal_basis": "consent"},
        "bruno": {"name": "Bruno", "email": "bruno@customer.example"},
        "carla": {"name": "Carla", "email": "carla@friends.example", "legal_basis": "contract"},
        "dora": {"name": "Dora", "email": "dora@rival.example"},
    }.items()}
    lead = admin("crm.lead", "create", {"name": "Upgrade deal", "type": "opportunity", "user_id": sales_uid,
                                        "partner_id": partners["anna"]})
    unfollow_admin(server, lead)

    # never-track and never-log lists: the salesperson's own, and the company's
    as_sales("res.users", "write", [sales_uid], {
        "mail_tracking_exclusion_ids": [(0, 0, {"pattern": "friends.example"})],
        "mail_logging_exclusion_ids": [(0, 0, {"pattern": "private.example", "scope": "log"})],
    })
    admin("mail.tracking.exclusion", "create", [{"pattern": "rival.example"},
                                                {"pattern": "secret.example", "scope": "log"}])

    # a tracked, logged email from the opportunity's chatter, one SMTP message per contact
    message_id = sales.post(lead, list(partners.values()), track_opens=True, track_clicks=True, log_email=True)
    bodies = {to_of(mail): html_part(mail) for mail in catcher.wait_for(len(partners))}
    body = {name: next(b for to, b in bodies.items() if f"{name}@" in to) for name in partners}
    for name in ("carla", "dora"):
        assert "/email-tracking/" not in body[name], f"{OLD_VERSION}: {name} is on a never-track list"
    anna_pixel = PIXEL.search(body["anna"]).group(1)
    anna_links, bruno_links = CLICK.findall(body["anna"]), CLICK.findall(body["bruno"])
    # Anna opens and clicks; Bruno's client blocks images: his click is also an inferred open
    assert requests.get(anna_pixel, headers={"User-Agent": "Thunderbird/128"}, timeout=10).status_code == 200
    for url in (anna_links[1][0], bruno_links[0][0]):
        assert requests.get(url, allow_redirects=False, timeout=10).status_code == 302
    # Anna answers through the mail gateway
    [message] = admin("mail.message", "read", [message_id], ["message_id", "subject", "record_name"])
    admin("mail.thread", "message_process", False, REPLY.format(
        sender=f"{SALES}@mycompany.example", ref=message["message_id"],
        subject=message["subject"] or message["record_name"]))

    # email imports: one done (its files are deleted with it), one still a draft with its file
    def eml(name, sender, to, subject):
        return as_sales("ir.attachment", "create", {
            "name": name, "res_model": "mail.logging.import", "res_id": 0,
            "datas": base64.b64encode(EML.format(sender=sender, to=to, subject=subject,
                                                 ref=name.split(".")[0]).encode()).decode()})

    me = f"Upgsales <{SALES}@mycompany.example>"
    done = as_sales("mail.logging.import", "create", {"attachment_ids": [(6, 0, [
        eml("offer.eml", me, "Erin <erin@newcustomer.example>", "Our offer"),
        eml("anna.eml", me, "Anna <anna@customer.example>", "Meeting notes"),
        eml("stranger.eml", "Stranger <stranger@elsewhere.example>", "anna@customer.example", "Not yours"),
    ])]})
    as_sales("mail.logging.import", "action_import", [done])
    as_sales("mail.logging.import", "create", {"attachment_ids": [(6, 0, [
        eml("later.eml", me, "Bruno <bruno@customer.example>", "Later")])]})

    # then, preferences and settings that differ from a new database's
    admin("res.users", "write", [sales_uid], {
        "mail_track_opens_default": False, "mail_track_clicks_default": False, "mail_tracking_notify": False,
        "mail_log_default": False, "mail_log_create_contacts": False,
        "mail_logging_sender_emails": "upgsales.home@private.example",
        "mail_tracking_feed_seen": "2025-11-06 07:08:09",
    })
    [company] = admin("res.users", "read", [sales_uid], ["company_id"])
    admin("res.company", "write", [company["company_id"][0]], {
        "mail_tracking_enforce_defaults": True, "mail_tracking_default_opens": False,
        "mail_tracking_default_clicks": False, "mail_tracking_privacy": True, "mail_tracking_anonymous_opens": True,
        "mail_tracking_visibility": "any", "mail_tracking_optout_link": True,
        "mail_log_enforce_default": True, "mail_log_default": False, "mail_logging_attachments_allowed": False,
        "mail_logging_notify_refusal": True, "mail_logging_trusted_servers": "mx.example.net",
        "mail_logging_attachment_max_mb": 7,
    })
    admin("res.company", "create", {"name": "Untracked Branch", "mail_tracking_allowed": False})
    admin("res.partner", "write", [partners["bruno"]], {"do_not_track": True})
    admin("ir.config_parameter", "set_param", RETENTION_PARAM, "90")
    return {"sales_uid": sales_uid, "company_id": company["company_id"][0], "partners": partners,
            "lead": lead, "message_id": message_id, "anna_pixel": anna_pixel}


@pytest.fixture(scope="module")
def upgraded(new_db, old_addons):
    """A database at 18.0.1.1.0 with data everywhere, then upgraded to this code."""
    db = new_db("upgrade")
    rc, log = run_on(old_addons, db, "-i", MODULE, "--stop-after-init", demo=False, http_port=rt.free_port())
    rt.assert_clean_run(rc, log, f"installing {MODULE} {OLD_VERSION}")
    with MailCatcher(smtp_port=0, http_port=0) as catcher:
        server = Server(db, old_addons, smtp_port=catcher.smtp_port)
        rt.query(db, "UPDATE ir_mail_server SET active = false")
        rt.query(db, "UPDATE ir_config_parameter SET value = %s WHERE key = 'web.base.url'", (server.url,))
        with server:
            made = make_old_data(server, catcher)
        rt.assert_clean_run(0, server.log_text(), f"making data on {MODULE} {OLD_VERSION}")

    fields = owned_fields(db)
    models = owned_models(db)
    relations = relation_tables(db)
    core_fields = {model: names for model, names in fields.items() if model not in models}
    before = snapshot(old_addons, db, fields, defaults_of=core_fields)
    relation_rows = {name: row_count(db, name) for name in relations}

    rc, log = run_on(rt.REPO_ADDONS, db, "-u", MODULE, "--stop-after-init", demo=False, log_level="info",
                     http_port=rt.free_port())
    rt.assert_clean_run(rc, log, f"upgrading {MODULE} from {OLD_VERSION}")
    after = snapshot(rt.REPO_ADDONS, db, {
        new_model(model): [new_field(model, name) for name in names] for model, names in fields.items()})
    return {"db": db, "made": made, "fields": fields, "models": models, "core_fields": core_fields,
            "before": before, "after": after, "relation_rows": relation_rows,
            "relation_rows_after": {name: row_count(db, name) for name in relations},
            "upgrade_log": log}


# -- checks ---------------------------------------------------------------------------------

def test_r6_the_old_database_has_data_in_every_table_and_field(upgraded):
    """The premise: nothing of the addon is empty before the upgrade."""
    before = upgraded["before"]
    empty_models = [model for model in upgraded["models"] if not before["rows"].get(model)]
    empty_relations = [name for name, count in upgraded["relation_rows"].items() if not count]
    defaults_only = [name for name, differs in before["non_default"].items() if not differs]
    assert not empty_models and not empty_relations, f"no rows in {empty_models + empty_relations}"
    assert not defaults_only, f"only default values in {defaults_only}"


def test_r6_upgrade_log_is_clean_and_deletes_nothing_of_the_addon(upgraded):
    log = upgraded["upgrade_log"]
    assert "Traceback" not in log
    # deleting a field drops its column, a model its table
    deleted = re.findall(r"Deleting \d+@(ir\.model(?:\.fields|\.fields\.selection|\.constraint|\.relation)?) "
                         rf"\(({MODULE}\.[\w.]+)\)", log)
    # only the fields the new code holds differently, after the migration converted them
    expected = {("ir.model.fields", f"{MODULE}.field_{model.replace('.', '_')}__{name}")
                for model, name in CONVERTED_FIELDS}
    assert set(deleted) <= expected, f"the upgrade deleted {sorted(set(deleted) - expected)}"
    assert not re.search(r"Dropped (FK )?CONSTRAINT", log), "the upgrade dropped a constraint"
    [(version,)] = rt.query(upgraded["db"], "SELECT latest_version FROM ir_module_module WHERE name = %s",
                            (MODULE,))
    assert version != OLD_VERSION


def test_r6_every_row_and_value_is_there_under_the_new_names(upgraded):
    before, after = upgraded["before"]["rows"], upgraded["after"]["rows"]
    lost = []
    for model, names in upgraded["fields"].items():
        old_rows, new_rows = by_id(before[model]), by_id(after[new_model(model)])
        if set(new_rows) != set(old_rows):
            lost.append(f"{model}: {len(old_rows)} rows before, {len(new_rows)} after as {new_model(model)}")
            continue
        for record_id, old in old_rows.items():
            new = new_rows[record_id]
            changed = {f"{name} -> {new_field(model, name)}": (old[name], new[new_field(model, name)])
                       for name in names if value_now(model, name, old[name]) != new[new_field(model, name)]}
            if changed:
                lost.append(f"{model} {record_id} (now {new_model(model)}), before -> after: {changed}")
    assert not lost, "\n".join(lost[:40])
    assert upgraded["relation_rows_after"] == upgraded["relation_rows"]


@pytest.fixture(scope="module")
def new_server(upgraded):
    """The upgraded database served by this code, mail going to a catcher."""
    db = upgraded["db"]
    with MailCatcher(smtp_port=0, http_port=0) as catcher:
        server = Server(db, rt.REPO_ADDONS, smtp_port=catcher.smtp_port)
        rt.query(db, "UPDATE ir_config_parameter SET value = %s WHERE key = 'web.base.url'", (server.url,))
        with server:
            yield server, catcher
            problems = rt.log_problems(server.log_text())
    assert not problems, "\n".join(problems)


def test_r6_renamed_values_read_through_the_new_code(upgraded, new_server):
    """The values set in 18.0.1.1.0 under the old names, read by the new code."""
    made, (server, _catcher) = upgraded["made"], new_server
    user = {"mail_track_opens_default": False, "mail_track_clicks_default": False, "mail_log_default": False,
            "mail_log_create_contacts": False, "mail_log_defaults_enforced": True}
    company = {"mail_log_enforce_default": True, "mail_log_default": False}
    for model, record_id, values in (("res.users", made["sales_uid"], user),
                                     ("res.company", made["company_id"], company)):
        [read] = server.rpc(model, "read", [record_id], [new_field(model, name) for name in values])
        assert {name: read[new_field(model, name)] for name in values} == values, model
    rules = server.rpc(new_model("mail.tracking.exclusion"), "search_read", [], ["pattern", "scope", "user_id"],
                       order="pattern")
    assert [(rule["pattern"], rule["scope"], bool(rule["user_id"])) for rule in rules] == [
        ("friends.example", "track", True), ("private.example", "log", True),
        ("rival.example", "track", False), ("secret.example", "log", False)]
    [user] = server.rpc("res.users", "read", [made["sales_uid"]],
                        [new_field("res.users", "mail_tracking_exclusion_ids")])
    never_track = server.rpc(new_model("mail.tracking.exclusion"), "read",
                             user[new_field("res.users", "mail_tracking_exclusion_ids")], ["pattern"])
    assert [rule["pattern"] for rule in never_track] == ["friends.example"]
    assert server.rpc("ir.config_parameter", "get_param", RETENTION_PARAM) == "90"


def test_r6_migrated_rules_and_tokens_still_work(upgraded, new_server):
    """A token sent by 18.0.1.1.0 still records an open, and the never-track rules of
    the salesperson and of the company still stop tracking."""
    made, (server, catcher) = upgraded["made"], new_server
    partners = made["partners"]

    def opens():
        return server.rpc("mail.tracked.event", "search_count", [
            ("recipient_id.message_id", "=", made["message_id"]),
            ("recipient_id.partner_id", "=", partners["anna"]), ("event_type", "=", "open")])

    before = opens()
    old_pixel = server.url + made["anna_pixel"][made["anna_pixel"].index("/email-tracking/"):]
    response = requests.get(old_pixel, headers={"User-Agent": "Thunderbird/140"}, timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"] == "image/gif"
    assert opens() == before + 1, "the old token records an open"

    catcher.clear()
    sales = Salesperson(server, SALES, PASSWORD)
    message_id = sales.post(made["lead"], [partners["anna"], partners["carla"], partners["dora"]],
                            track_opens=True, track_clicks=True, log_email=False)
    bodies = {to_of(mail): html_part(mail) for mail in catcher.wait_for(3)}
    tracked = {row["partner_id"][0] for row in server.rpc(
        "mail.tracked.recipient", "search_read", [("message_id", "=", message_id)], ["partner_id"])
        if row["partner_id"]}
    assert tracked == {partners["anna"]}, "Carla and Dora are on never-track lists"
    for name in ("carla", "dora"):
        body = next(b for to, b in bodies.items() if f"{name}@" in to)
        assert "/email-tracking/click/" not in body, f"{name}'s links are not tracked"
    assert "/email-tracking/click/" in next(b for to, b in bodies.items() if "anna@" in to)
