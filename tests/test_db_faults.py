"""R7: PostgreSQL restarted in the middle of a burst of opens and clicks, on a
throw-away cluster of its own (tests/db_faults.py says how). Odoo (2 workers,
the fast path) and the standalone edge answer every request quickly while the
database is away, record every request they acknowledged exactly once, and
serve again without being restarted. ``make bench-reliability`` gives the
figures of longer runs."""
import pytest
import requests
from db_faults import analyse, copy_to_cluster, inconsistent_recipients, on_cluster, run_faults, tracked_site

from devtools import odoo_runtime as rt
from devtools import postgres

from e2e_crm import PIXEL, delivered_ago, html_part, visible_links

# An answer during the outage within this time: failing fast, not hanging.
FAIL_FAST_SECONDS = 5
# Serving again within this time once PostgreSQL accepts connections.
RECOVERY_SECONDS = 5
# A crash of the server (``-m immediate``) may lose the opens and clicks answered this shortly
# before it: the recording connections commit without waiting for the WAL flush, which the
# WAL writer does every 200 ms (README, "Tracking at scale").
LAST_MOMENTS_MS = 1000


@pytest.fixture(scope="module")
def cluster():
    if not postgres.binaries():
        pytest.skip("initdb is not installed (apt-get install postgresql)")
    with postgres.throwaway_cluster() as cluster:
        yield cluster


def test_r7_a_postgresql_restart_during_opens_and_clicks_loses_no_acknowledged_event(cluster, odoo_server):
    db = "mtx_faults"
    copy_to_cluster(odoo_server.db, cluster, db)
    with tracked_site(cluster, db, contacts=30) as (odoo, edge, copies):
        requests, faults = run_faults(cluster, odoo, edge, copies, before=2, after=3)
    with on_cluster(cluster):
        figures = analyse(db, requests, faults)
        assert inconsistent_recipients(db) == [], "a state without its event, or an event without its state"
    for row in figures:
        print(row)  # the figures, with -s
    assert {(row["mode"], row["target"]) for row in figures} == {
        (mode, target) for mode in ("fast", "immediate") for target in ("odoo", "edge")}
    assert sum(row["during"] for row in figures) > 0, "no request met the outage: the test proved nothing"
    for row in figures:
        what = f"{row['target']}, restart -m {row['mode']}"
        assert row["max_latency_during_s"] < FAIL_FAST_SECONDS, f"{what}: a request hung during the outage"
        assert row["twice"] == [], f"{what}: requests recorded twice"
        assert row["recovery_s"] < RECOVERY_SECONDS and row["acknowledged_after"] > 0, f"{what}: no recovery"
        assert set(row["failed_statuses"]) <= {"503", "404", "500"} | {
            status for status in row["failed_statuses"] if status.startswith("socket error")}, what
        if row["mode"] == "fast":  # a clean shutdown: every acknowledged event is on disk
            assert row["lost"] == [], f"{what}: acknowledged requests not recorded"
        else:  # a crash: synchronous_commit = off may lose what was answered in its last moments only
            assert all(ms < LAST_MOMENTS_MS for ms in row["lost_before_fault_ms"]), f"{what}: {row}"


def test_r7_a_failure_between_the_event_and_the_state_leaves_neither(odoo_server, mail_catcher, crm):
    """The recipient's state moves in the transaction of its event: a database error on the
    state's update (injected by a trigger) keeps the event out too, on every way in (the
    fast path, then Odoo's route it hands the request to); once the fault is gone the same
    requests record each event once, with its state."""
    db = odoo_server.db
    mail_catcher.clear()
    message_id = crm["sales"].post(crm["lead"], [crm["bruno"]])
    body = html_part(mail_catcher.wait_for(1)[0])
    delivered_ago(db, message_id)
    pixel, (link, _token, _ref) = PIXEL.search(body).group(1), visible_links(body)[0]
    rt.query(db, """
        CREATE FUNCTION mtx_fault_on_state() RETURNS trigger LANGUAGE plpgsql AS
            $$ BEGIN RAISE EXCEPTION 'injected fault on the recipient state'; END $$;
        CREATE TRIGGER mtx_fault_on_state BEFORE UPDATE ON mail_tracked_recipient FOR EACH ROW
            WHEN (OLD.state IS DISTINCT FROM NEW.state) EXECUTE FUNCTION mtx_fault_on_state()""")
    try:
        failed = [requests.get(pixel, timeout=10).status_code,
                  requests.get(link, allow_redirects=False, timeout=10).status_code]
        assert 200 not in failed and 302 not in failed, failed
        assert events_and_state(db, message_id) == ([], "sent"), "an event without its state"
    finally:
        rt.query(db, "DROP TRIGGER mtx_fault_on_state ON mail_tracked_recipient; DROP FUNCTION mtx_fault_on_state()")
    assert requests.get(pixel, timeout=10).status_code == 200
    assert requests.get(link, allow_redirects=False, timeout=10).status_code == 302
    assert events_and_state(db, message_id) == (["click", "open"], "clicked")


def events_and_state(db, message_id):
    events = rt.query(db, """SELECT e.event_type FROM mail_tracked_event e JOIN mail_tracked_recipient r
                              ON r.id = e.recipient_id WHERE r.message_id = %s ORDER BY 1""", (message_id,))
    [(state,)] = rt.query(db, "SELECT state FROM mail_tracked_recipient WHERE message_id = %s", (message_id,))
    return [event for (event,) in events], state
