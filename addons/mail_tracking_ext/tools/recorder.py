"""The recorder of opens and clicks: one home for what a request of a tracked
email's pixel or link does to the database (T1, T2, T6, T8, A1-A3, N1, N4, P2).

Three ways lead to it, and they share every rule through this module:

* Odoo's routes (``controllers/tracking.py`` through ``mail.tracked.event``);
* the fast path that answers those routes in front of Odoo's request handling
  (``controllers/fast_path.py``);
* the standalone tracking edge, a plain WSGI application (``tools/edge.py``).

The edge runs without Odoo, so this module uses the DB-API alone: plain SQL
with named parameters on any psycopg2-like cursor (Odoo's cursors are), and a
*host* for what differs between the three: what runs once the transaction is
committed, how the web clients are told (Odoo's bus, in the messages the web
client already reads).

A host provides::

    dbname                  the database's name (bus channels carry it)
    after_commit(task)      run ``task(recorder)`` in a new transaction once this one committed
    send(notifications)     [(channel, type, payload)] to Odoo's bus, with this transaction

Settings are read by the statements themselves, so that every way sees a
change at once, without any cache to invalidate across processes.
"""
import hashlib
import re
import weakref
from datetime import datetime, timedelta, timezone

from . import event_source
from .compat import MESSAGE_SUBJECT_SQL
from .html import LINK_REF_LENGTH
from .ip import truncate_ip
from .token import message_id_of, token_digest

USER_AGENT_MAX_LENGTH = 512
LINK_REF = re.compile(rf"[0-9a-f]{{{LINK_REF_LENGTH}}}")
# Reloads of the same pixel (or link) within this window notify nobody again (N1).
NOTIFY_WINDOW = timedelta(minutes=10)
# Subchannel of a record that the chatters showing it listen to (N4).
BUS_SUBCHANNEL = "mail_tracking_ext"
BUS_TYPE = "mail_tracking_ext/engagement"
# The recipient's states in the order events move it, with the open and click rates
# each stands for (0 or 100 per email, so that their average is a rate).
STATE_RATES = {"sent": (0, 0), "opened": (100, 0), "clicked": (100, 100)}
STATES = tuple(STATE_RATES)


def utcnow():
    """Now, as Odoo stores dates: naive UTC, whole seconds."""
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


_PARAMETER = re.compile(r"%\((\w+)\)s")
_STATEMENTS = {}  # SQL text -> (statement name, positional SQL, parameter names)
_PREPARED = weakref.WeakKeyDictionary()  # database connection -> names of its prepared statements


def execute_prepared(cr, query, params):
    """Execute ``query`` (named parameters) as a prepared statement of the
    cursor's connection. Planning the recorder's statement costs more than
    running it; prepared, it is planned once per connection. Prepared
    statements outlive transactions, rolled back or not, and die with the
    connection."""
    if query not in _STATEMENTS:
        names = []

        def positional(match):
            if match[1] not in names:
                names.append(match[1])
            return f"${names.index(match[1]) + 1}"

        sql = _PARAMETER.sub(positional, query)
        _STATEMENTS[query] = (f"mail_tracking_{hashlib.sha1(query.encode()).hexdigest()[:16]}", sql, names)
    name, sql, names = _STATEMENTS[query]
    prepared = _PREPARED.setdefault(cr.connection, set())
    if name not in prepared:
        # the recorder's own statement, its values as $n parameters
        cr.execute(f"PREPARE {name} AS {sql}")  # pylint: disable=sql-injection
        prepared.add(name)
    cr.execute(f"EXECUTE {name} ({', '.join(['%s'] * len(names))})" if names else f"EXECUTE {name}",
               [params[parameter] for parameter in names])


def fetch_dict(cr):
    row = cr.fetchone()
    return row and dict(zip((column[0] for column in cr.description), row, strict=True))


OWN_NETWORKS_KEY = "mail_tracking_ext.own_networks"


def _is_serialization_failure(error):
    return getattr(error, "pgcode", None) == "40001"


class Recorder:
    """Records what the requests of one transaction (``cr``) bring, for
    ``host`` (see the module's docstring)."""

    def __init__(self, cr, host):
        self.cr = cr
        self.host = host
        # Odoo's cursors: REPEATABLE READ, a failed statement logged as an error (a lost race
        # is expected), connections from a pool that resets them. Else the connections of
        # tools/edge.py: READ COMMITTED (a race waits), kept with their prepared statements.
        self._odoo_cursor = hasattr(cr, "postcommit")
        self._quietly = {"log_exceptions": False} if self._odoo_cursor else {}

    def _execute(self, query, params):
        """Run one of the recorder's statements: prepared where the connection
        keeps them, else as Odoo's cursors run queries (a failure not logged as
        an error: a lost race is expected)."""
        if not self._odoo_cursor:
            execute_prepared(self.cr, query, params)
        else:
            self.cr.execute(query, params, **self._quietly)

    # ------------------------------------------------------------
    # What a request says
    # ------------------------------------------------------------

    def _hit(self, token, ip, user_agent, session_uid, event_type):
        user_agent = (user_agent or "").replace("\x00", "")[:USER_AGENT_MAX_LENGTH] or None
        address = event_source.parse_address(ip)
        return {
            "digest": token_digest(token),
            "now": utcnow(),
            "ip": truncate_ip(address),
            "user_agent": user_agent,
            "session_uid": session_uid,
            # what the request shows alone, from the full address; its story is judged after. The
            # company's own networks come with the copy's row (``_recorded``)
            "address": address,
            "listed": event_source.listed_source(event_type, address, user_agent),
        }

    def record_open(self, token, ip=None, user_agent=None, session_uid=None):
        """Record an open of the email copy carrying ``token`` from the client
        address ``ip`` (full: it is truncated for storage). ``session_uid`` is
        the Odoo user logged in in the browser that loaded the pixel: when it
        is the email's author, the open is theirs, kept apart and never counted
        nor notified. Nothing is written for an unknown token, an email sent
        without open tracking or a contact who withdrew."""
        hit = self._hit(token, ip, user_agent, session_uid, "open")
        if not hit["digest"]:
            return
        row_sql, row_params = self._engagement_row(hit, "open")
        insert_sql, insert_params = self._insert_event(hit, "open")
        self._execute(f"""
            WITH recipient AS ({row_sql} AND m.track_opens AND p.do_not_track IS NOT TRUE),
            event AS ({insert_sql} FROM recipient RETURNING id)
            SELECT recipient.*, event.id AS event_id FROM recipient, event
        """, {**row_params, **insert_params})
        row = fetch_dict(self.cr)
        if row and not row["is_sender"]:
            self._recorded(row, "open", hit)

    def record_click(self, token, ref, ip=None, user_agent=None, record=True, session_uid=None):
        """Return the original URL of link ``ref`` of the email copy carrying
        ``token`` ("" for the hidden link no person sees), or None when the
        email has no such link; record the click unless ``record`` is false (a
        HEAD request). When the copy's tracking is gone the link still leads to
        its URL, without recording anything."""
        hit = self._hit(token, ip, user_agent, session_uid, "click")
        if not hit["digest"] or not LINK_REF.fullmatch(ref or ""):
            return None
        row_sql, row_params = self._engagement_row(hit, "click", ref)
        insert_sql, insert_params = self._insert_event(hit, "click")
        self._execute(f"""
            WITH target AS ({row_sql} AND m.tracked_links ? %(ref)s),
            click AS ({insert_sql} FROM target
                       WHERE %(record)s AND track_clicks AND do_not_track IS NOT TRUE RETURNING id)
            SELECT target.*, (SELECT id FROM click) AS event_id FROM target
        """, {**row_params, **insert_params, "ref": ref, "record": bool(record)})
        row = fetch_dict(self.cr)
        if not row:
            return self.link_of_email(token, ref)
        if row["event_id"] and not row["is_sender"]:
            self._recorded(row, "click", hit)
        return row["url"]

    def link_of_email(self, token, ref):
        """The original URL of link ``ref`` of the email that ``token``'s key
        names, when the copy's tracking is gone (a contact erased, the
        retention period, a delivery retried): the link still works, and
        nothing is recorded. The URL comes from the email's own links (R2)."""
        self.cr.execute("SELECT value FROM ir_config_parameter WHERE key = 'database.secret'")
        secret = (self.cr.fetchone() or [None])[0]
        message_id = secret and message_id_of(token, secret)
        if not message_id:
            return None
        self.cr.execute("SELECT tracked_links ->> %(ref)s FROM mail_message WHERE id = %(id)s",
                        {"ref": ref, "id": message_id})
        row = self.cr.fetchone()
        return row and row[0]

    # ------------------------------------------------------------
    # The statement: the copy, its story so far, and the event
    # ------------------------------------------------------------

    @staticmethod
    def _insert_event(hit, event_type):
        """The INSERT of the request's event, from a row of ``_engagement_row``
        (callers add FROM and WHERE): the author's own, or what the request
        shows alone until its story is judged (``_recorded``)."""
        verdict = hit["listed"] or event_source.HUMAN
        return """
            INSERT INTO mail_tracked_event
                   (recipient_id, author_id, url, event_type, event_date, ip, user_agent, is_inferred,
                    source, source_rule, source_detail, is_counted, delivery_delay)
            SELECT id, author_id, url, %(event_type)s, %(now)s, %(ip)s, %(user_agent)s, false,
                   CASE WHEN is_sender THEN 'sender' ELSE %(source)s END,
                   CASE WHEN is_sender THEN 'author' ELSE %(rule)s END,
                   %(detail)s, %(counted)s AND NOT is_sender,
                   GREATEST(0, EXTRACT(EPOCH FROM %(now)s - sent_date))::integer
        """, {"event_type": event_type, "now": hit["now"], "ip": hit["ip"], "user_agent": hit["user_agent"],
              "source": verdict.source, "rule": verdict.rule, "detail": verdict.detail or None,
              "counted": event_source.is_counted(event_type, verdict.source)}

    @staticmethod
    def _engagement_row(hit, event_type, ref=None):
        """The SELECT of the tracked copy named by the request's token, with
        what the recorder and the live updates need: its recipient ``r``,
        email ``m`` and contact ``p``, whether the browser is the author's, the
        date of the previous counted event like this one (the notification
        window) and, for judging the event, how many links of this copy the
        request's network followed within seconds. Callers add conditions
        after its WHERE."""
        url = "m.tracked_links ->> %(ref)s" if ref else "NULL::varchar"
        same_url = f"AND e.url = {url}" if ref else ""
        # a network that showed itself a program on this copy stays one for a while
        unmasked = """
            EXISTS (SELECT FROM mail_tracked_event e
                     WHERE e.recipient_id = r.id AND e.ip = %(ip)s AND e.event_date >= %(revision_since)s
                       AND e.source_rule = ANY(%(revealing)s))
        """ if hit["ip"] else "false"
        # a gateway checks each recipient's copy of an email: all its links at once
        burst_links = f"""
            (SELECT count(DISTINCT e.url) FROM mail_tracked_event e
              WHERE e.recipient_id = r.id AND e.event_type = 'click' AND e.ip = %(ip)s
                AND e.event_date > %(burst_since)s AND e.url IS DISTINCT FROM {url}) + 1
        """ if event_type == "click" and hit["ip"] else "1"
        return f"""
            SELECT r.id, r.state, r.first_open_date, r.message_id, r.partner_id, r.email, r.is_aggregate,
                   r.sent_date, p.name AS partner_name, p.do_not_track, m.author_id, m.model, m.res_id,
                   m.track_clicks, {MESSAGE_SUBJECT_SQL} AS subject, {url} AS url,
                   EXISTS (SELECT FROM res_users u
                            WHERE u.id = %(session_uid)s AND u.partner_id = m.author_id) AS is_sender,
                   (SELECT bool_or(u.mail_tracking_notify) FROM res_users u
                     WHERE u.partner_id = m.author_id AND u.active AND NOT u.share) AS author_notify,
                   (SELECT e.event_date FROM mail_tracked_event e
                     WHERE e.recipient_id = r.id AND e.event_type = %(event_type)s AND e.is_counted {same_url}
                  ORDER BY e.event_date DESC LIMIT 1) AS previous_date,
                   {burst_links} AS burst_links,
                   {unmasked} AS unmasked,
                   (SELECT value FROM ir_config_parameter WHERE key = %(own_networks_key)s) AS own_networks
              FROM mail_tracked_recipient r
              JOIN mail_message m ON m.id = r.message_id
         LEFT JOIN res_partner p ON p.id = r.partner_id
             WHERE r.token_digest = %(digest)s
        """, {"ref": ref, "session_uid": hit["session_uid"], "event_type": event_type, "ip": hit["ip"],
              "revision_since": hit["now"] - event_source.REVISION_WINDOW,
              "burst_since": hit["now"] - event_source.BURST_WINDOW,
              "revealing": list(event_source.REVEALING_RULES), "digest": hit["digest"],
              "own_networks_key": OWN_NETWORKS_KEY}

    # ------------------------------------------------------------
    # The event in its email's story
    # ------------------------------------------------------------

    def _recorded(self, row, event_type, hit):
        """After an event of a recipient was recorded from ``row``: judge it in
        its email's story (A1, A3), re-classify the events of a scanner it
        reveals, then advance the recipient and tell the web clients. Only a
        person's opens and clicks move the recipient and notify the author."""
        now = hit["now"]
        recorded_as = hit["listed"] or event_source.HUMAN
        listed = event_source.listed_source(
            event_type, hit["address"], hit["user_agent"], event_source.own_networks(row["own_networks"]))
        delay = (now - row["sent_date"]).total_seconds() if row["sent_date"] else None
        reading = (now - row["first_open_date"]).total_seconds() if row["first_open_date"] else None
        verdict = event_source.judge(
            event_type, listed, delay=delay, burst_links=row["burst_links"], reading=reading,
            honeypot=event_type == "click" and row["url"] == "", unmasked=row["unmasked"])
        if verdict != recorded_as:
            self.classify(row["event_id"], verdict, event_type)
        if verdict.rule in event_source.REVEALING_RULES:
            # what this network did just before was the scanner's too: statuses follow at once
            self.lock_recipient(row["id"])
            self.revise_network(row["id"], hit["ip"], now, verdict)
            self.recompute_state([row["id"]])
        if verdict.source in event_source.UNCOUNTED_MACHINES:
            self.touched_by_machine([row["id"]])
        if not event_source.is_counted(event_type, verdict.source):
            # whoever has the record open sees the machine's event, greyed; nobody is notified
            self.push_refresh(row["model"], row["res_id"], row["message_id"])
            return
        if event_type == "click" and hit["ip"] and delay is not None and delay < event_source.RECHECK_SECONDS:
            self.host.after_commit(lambda recorder: recorder.recheck_clicks(row, hit["ip"], now))
        if row["state"] != "clicked" and (event_type == "click" or row["state"] == "sent"):
            self.advance(row["id"], event_type, now, hit["ip"], hit["user_agent"], row["event_id"])
        self.notify_engagement(row, event_type, now)

    def recheck_clicks(self, row, ip, now):
        """Judge a person's click again once committed: a program that follows
        every link of a copy at the same instant sends requests that do not
        see each other's events. Whatever came from the click's network on
        the copy within seconds, committed by now, may reveal the burst or the
        hidden link; then it is all re-classified, as within a request."""
        self.cr.execute("""
            SELECT count(DISTINCT url) FILTER (WHERE url != ''), bool_or(url = '')
              FROM mail_tracked_event
             WHERE recipient_id = %(recipient)s AND event_type = 'click' AND ip = %(ip)s
               AND event_date BETWEEN %(since)s AND %(until)s
        """, {"recipient": row["id"], "ip": ip, "since": now - event_source.BURST_WINDOW,
              "until": now + event_source.BURST_WINDOW})
        links, hidden = self.cr.fetchone()
        if not hidden and (links or 0) < event_source.BURST_LINKS:
            return
        verdict = event_source.Verdict("scanner", "honeypot") if hidden else \
            event_source.Verdict("scanner", "burst", str(links))
        self.lock_recipient(row["id"])
        self.revise_network(row["id"], ip, now, verdict)
        self.recompute_state([row["id"]])
        self.push_refresh(row["model"], row["res_id"], row["message_id"])

    def lock_recipient(self, recipient_id):
        """Wait for the transactions that are moving this recipient (a person's
        click on another link, at the same instant) before its events are
        re-classified and its state derived again: under READ COMMITTED the
        next statements then see what they committed."""
        self.cr.execute("SELECT FROM mail_tracked_recipient WHERE id = %(id)s FOR NO KEY UPDATE",
                        {"id": recipient_id}, **self._quietly)

    def classify(self, event_id, verdict, event_type):
        """Give the event ``event_id`` ``verdict``."""
        self.cr.execute("""
            UPDATE mail_tracked_event
               SET source = %(source)s, source_rule = %(rule)s, source_detail = %(detail)s, is_counted = %(counted)s
             WHERE id = %(id)s
        """, {"source": verdict.source, "rule": verdict.rule, "detail": verdict.detail or None,
              "counted": event_source.is_counted(event_type, verdict.source), "id": event_id})

    def revise_network(self, recipient_id, ip, now, verdict):
        """A program revealed itself on a copy from network ``ip``: its events
        of the last seconds there, taken for a person's (or for nothing), are
        its own too. One copy only: behind a proxy that hides the clients'
        addresses, every copy would share one network."""
        if not ip:
            return
        self.cr.execute("""
            UPDATE mail_tracked_event
               SET source = 'scanner', source_rule = %(rule)s, source_detail = %(detail)s, is_counted = false
             WHERE recipient_id = %(recipient)s AND ip = %(ip)s AND event_date >= %(since)s
               AND source IN ('human', 'unknown')
        """, {"rule": verdict.rule, "detail": verdict.detail or None, "recipient": recipient_id, "ip": ip,
              "since": now - event_source.REVISION_WINDOW})

    # ------------------------------------------------------------
    # The state machine: sent -> opened -> clicked, never back (T6, T8, L9)
    # ------------------------------------------------------------

    def advance(self, recipient_id, evidence, date, ip=None, user_agent=None, event_id=None):
        """Move a recipient forward after an ``evidence`` ("open", "click" or
        "reply") recorded at ``date``: to "clicked" after a click, else to
        "opened"; a reply also dates the recipient's first reply. A click or a
        reply proves the email was read: when no open was recorded, they add
        one, flagged inferred. Returns the inferred open's id, if any.
        ``event_id``: the evidence's event, when it is one.

        It runs in the caller's transaction, after the evidence was recorded,
        so a state never exists without its event. Scanners follow every link
        at once and mail clients load pixels twice: simultaneous first events
        of one recipient are the rule. They race for its row. Under Odoo's
        REPEATABLE READ, the transactions that lose may not update it after
        the winner did; they need not, the winner advanced the state and
        inferred the open: they give up this step under a savepoint and keep
        their events (under READ COMMITTED, the edge's, they wait and see the
        winner's row)."""
        if not self._odoo_cursor:  # READ COMMITTED: a lost race waits, then sees the winner's row
            return self._advance(recipient_id, evidence, date, ip, user_agent)
        cr = self.cr
        cr.execute("SAVEPOINT mail_tracking_advance")
        try:
            inferred = self._advance(recipient_id, evidence, date, ip, user_agent)
        except Exception as error:
            cr.execute("ROLLBACK TO SAVEPOINT mail_tracking_advance")
            if not _is_serialization_failure(error):
                raise
            # another transaction wrote the row since this one began: usually the winner of
            # the same race, who did this step; else (a machine's event on the copy) the step
            # is done once this transaction committed, in a transaction of its own
            self.host.after_commit(
                lambda recorder: recorder.advance_if_counted(recipient_id, evidence, date, ip, user_agent, event_id))
            return None
        cr.execute("RELEASE SAVEPOINT mail_tracking_advance")
        return inferred

    def _advance(self, recipient_id, evidence, date, ip, user_agent):
        """``advance`` in one statement: the recipient's row locked and read,
        moved forward (or only its reply dated), and the inferred open."""
        target = "clicked" if evidence == "click" else "opened"
        open_rate, click_rate = STATE_RATES[target]
        self._execute("""
            WITH previous AS (
                -- NO KEY UPDATE: the requests' event inserts hold KEY SHARE locks on the row
                SELECT id, state, state = ANY(%(before)s) AS moves
                  FROM mail_tracked_recipient WHERE id = %(id)s FOR NO KEY UPDATE
            ), moved AS (
                UPDATE mail_tracked_recipient r
                   SET state = CASE WHEN p.moves THEN %(target)s ELSE r.state END,
                       open_rate = CASE WHEN p.moves THEN %(open_rate)s ELSE r.open_rate END,
                       click_rate = CASE WHEN p.moves THEN %(click_rate)s ELSE r.click_rate END,
                       first_open_date = CASE WHEN p.moves THEN COALESCE(r.first_open_date, %(date)s)
                                              ELSE r.first_open_date END,
                       replied_date = CASE WHEN %(reply)s THEN COALESCE(r.replied_date, %(date)s)
                                           ELSE r.replied_date END
                  FROM previous p
                 WHERE r.id = p.id AND (p.moves OR %(reply)s)
            ), inferred AS (
                INSERT INTO mail_tracked_event
                       (recipient_id, author_id, event_type, event_date, ip, user_agent, is_inferred,
                        source, source_rule, is_counted, delivery_delay)
                SELECT r.id, r.author_id, 'open', %(date)s, %(ip)s, %(user_agent)s, true,
                       'human', %(rule)s, true, GREATEST(0, EXTRACT(EPOCH FROM %(date)s - r.sent_date))::integer
                  FROM mail_tracked_recipient r JOIN previous p ON p.id = r.id
                 WHERE p.state = 'sent' AND %(infers)s
             RETURNING id
            )
            SELECT (SELECT id FROM inferred)
        """, {"id": recipient_id, "before": list(STATES[:STATES.index(target)]), "target": target,
              "open_rate": open_rate, "click_rate": click_rate, "date": date, "reply": evidence == "reply",
              "ip": ip, "user_agent": user_agent, "rule": "reply" if evidence == "reply" else "person",
              "infers": evidence != "open"})
        row = self.cr.fetchone()
        return row and row[0]

    def advance_if_counted(self, recipient_id, evidence, date, ip, user_agent, event_id):
        """``advance``, in a later transaction, unless the evidence meanwhile
        turned out to be a program's (A3)."""
        if event_id:
            self.cr.execute("SELECT is_counted FROM mail_tracked_event WHERE id = %(id)s", {"id": event_id})
            if not (self.cr.fetchone() or [False])[0]:
                return
        self.advance(recipient_id, evidence, date, ip, user_agent, event_id)

    def recompute_state(self, recipient_ids):
        """Derive these recipients' state again from their counted events, after
        some of them turned out to be a machine's (A3): a recipient whose only
        "click" was a scanner's is back to what a person did, with its rates."""
        if not recipient_ids:
            return
        state = """CASE WHEN c.clicked THEN 'clicked'
                        WHEN c.opened OR r.replied_date IS NOT NULL THEN 'opened' ELSE 'sent' END"""
        open_rate, click_rate = (
            "CASE {} END".format(" ".join(
                f"WHEN {state} = '{name}' THEN {int(rates[index])}" for name, rates in STATE_RATES.items()))
            for index in (0, 1))
        self.cr.execute(f"""
            UPDATE mail_tracked_recipient r
               SET state = {state}, first_open_date = COALESCE(c.first_open, r.replied_date),
                   open_rate = {open_rate}, click_rate = {click_rate},
                   machine_rate = CASE WHEN c.machines THEN 100 ELSE 0 END
              FROM (SELECT copy.id,
                           bool_or(e.source IN %(machines)s) IS TRUE AS machines,
                           bool_or(e.event_type = 'click' AND e.is_counted) IS TRUE AS clicked,
                           bool_or(e.event_type = 'open' AND e.is_counted) IS TRUE AS opened,
                           min(e.event_date) FILTER (WHERE e.event_type = 'open' AND e.is_counted) AS first_open
                      FROM mail_tracked_recipient copy
                 LEFT JOIN mail_tracked_event e ON e.recipient_id = copy.id
                     WHERE copy.id IN %(ids)s
                  GROUP BY copy.id) c
             WHERE r.id = c.id
        """, {"ids": tuple(recipient_ids), "machines": event_source.UNCOUNTED_MACHINES})  # noqa: S608 - constants

    def touched_by_machine(self, recipient_ids):
        """A privacy proxy or a scanner touched these copies (A1)."""
        self.cr.execute(
            "UPDATE mail_tracked_recipient SET machine_rate = 100 WHERE id IN %(ids)s AND machine_rate != 100",
            {"ids": tuple(recipient_ids)})

    # ------------------------------------------------------------
    # Telling the web clients: the chatters (N4) and the author (N1, N2)
    # ------------------------------------------------------------

    def notify_engagement(self, row, evidence, date):
        """Tell the web clients that a recipient just opened, clicked or
        replied, from ``row`` (see ``_engagement_row``), without loading any
        record. Everyone who has the email's record open is only told that its
        tracking changed, and fetches what they may see (P4); the author also
        gets what their notification says, unless they opted out. Reloads
        within ``NOTIFY_WINDOW`` tell nobody again."""
        if row.get("previous_date") and row["previous_date"] > date - NOTIFY_WINDOW:
            return
        notifications = self._refresh_notifications(row["model"], row["res_id"], row["message_id"])
        # who did what goes to the author's partner only while it is an active internal user's
        # (``author_notify`` is NULL otherwise): a former employee or a portal author learns nothing (P4)
        if row["author_id"] and row["author_notify"] is not None:
            notifications.append(((self.host.dbname, "res.partner", row["author_id"]), BUS_TYPE, {
                "message_id": row["message_id"],
                "refresh": True,
                "for_author": True,
                "notify": bool(row["author_notify"]) and evidence != "reply",
                "event": evidence,
                "url": row.get("url") or False,
                "recipient": {
                    "name": row["partner_name"] or False,
                    "email": row["email"] or False,
                    "anonymous": not row["partner_id"],
                    "aggregate": bool(row["is_aggregate"]),
                },
                "subject": row["subject"] or False,
                "model": row["model"] or False,
                "res_id": row["res_id"] or False,
            }))
        if notifications:
            self.host.send(notifications)

    def push_refresh(self, model, res_id, message_id):
        """Tell the chatters showing a record that one of its emails' tracking
        changed. Whoever has the record open may not see that tracking (P4): they
        only learn that it changed, and fetch what they may see."""
        if notifications := self._refresh_notifications(model, res_id, message_id):
            self.host.send(notifications)

    def _refresh_notifications(self, model, res_id, message_id):
        if not (model and res_id):
            return []
        return [((self.host.dbname, model, res_id, BUS_SUBCHANNEL), BUS_TYPE,
                 {"message_id": message_id, "refresh": True})]
