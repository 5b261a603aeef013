"""Replay the labelled corpus of tracking requests (``tests/a1_corpus.json``)
through a real Odoo server in proxy mode, and score how its events were
classified (A1, A3): precision and recall per source, the share of machine
events recognised as machines, a confusion table.

Each scenario is one tracked email to one contact, delivered through a real
SMTP catcher; its requests carry the corpus's client address in
``X-Forwarded-For`` and its User-Agent. A scenario spans hours: before each
request the email's delivery date and its earlier events are moved back in the
database so that, for the server, the request comes ``t`` seconds after
delivery and after the earlier ones, as in the trace.
"""

import json
import os
import time
from collections import Counter

import requests

from devtools import odoo_runtime as rt

from e2e_crm import CLICK, PIXEL, html_part

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "a1_corpus.json")
MACHINE = ("privacy_proxy", "image_proxy", "scanner")
CLASSES = ("human", "privacy_proxy", "image_proxy", "scanner", "unknown")
# A1's targets
HUMAN_PRECISION = HUMAN_RECALL = MACHINE_RECOGNISED = 0.95


def load_corpus(path=CORPUS):
    with open(path, encoding="utf-8") as file:
        return json.load(file)["scenarios"]


def body_with_links(index, links):
    anchors = " ".join(f'<a href="https://shop.example/s{index}/l{link}">link {link}</a>' for link in range(links))
    return f"<p>Offer {index}</p><p>{anchors}</p>"


def replay(server, catcher, salesperson, lead, scenarios=None):
    """Send one tracked email per scenario and replay its requests; return
    ``[(scenario name, event, source, reason)]`` in corpus order."""
    scenarios = scenarios if scenarios is not None else load_corpus()
    results = []
    for index, scenario in enumerate(scenarios):
        contact = server.rpc("res.partner", "create", {
            "name": f"Corpus {index}", "email": f"corpus{index}@customer{index}.example"})
        catcher.clear()
        message_id = salesperson.post(lead, [contact], body=body_with_links(index, scenario["links"]))
        [delivered] = catcher.wait_for(1)
        html = html_part(delivered)
        def on_server(url):
            return server.url + url[url.index("/email-tracking/"):]

        pixel = on_server(PIXEL.search(html).group(1))
        links = [on_server(match.group(1)) for match in CLICK.finditer(html)]
        assert len(links) == scenario["links"] + 1, f"{scenario['name']}: the links and the hidden link: {links}"
        recipient_id = rt.query(server.db, """
            SELECT r.id FROM mail_tracked_recipient r
             WHERE r.message_id = %s AND r.partner_id = %s""", (message_id, contact))[0][0]
        virtual = {}  # event id -> seconds after delivery in the trace
        for event in sorted(scenario["events"], key=lambda event: event["t"]):
            _set_clock(server.db, recipient_id, event["t"], virtual)
            if event["type"] == "open":
                url = pixel
            else:
                url = links[-1] if event["link"] == "honeypot" else links[event["link"]]
            # as a reverse proxy configured for Odoo passes them (Odoo trusts them only with the host)
            response = requests.get(url, headers={
                "User-Agent": event["ua"], "X-Forwarded-For": event["address"],
                "X-Forwarded-Host": server.url.split("://")[1], "X-Forwarded-Proto": "http",
            }, allow_redirects=False, timeout=30)
            assert response.status_code in (200, 302), f"{scenario['name']}: {url} answered {response.status_code}"
            for (event_id,) in rt.query(server.db, "SELECT id FROM mail_tracked_event WHERE recipient_id = %s",
                                        (recipient_id,)):
                virtual.setdefault(event_id, event["t"])
        recorded = rt.query(server.db, """
            SELECT source, source_rule, source_detail FROM mail_tracked_event
             WHERE recipient_id = %s AND NOT is_inferred ORDER BY id""", (recipient_id,))
        assert len(recorded) == len(scenario["events"]), f"{scenario['name']}: {len(recorded)} events recorded"
        ordered = sorted(scenario["events"], key=lambda event: event["t"])
        for event, (source, rule, detail) in zip(ordered, recorded, strict=True):
            results.append((scenario["name"], event, source, f"{rule} {detail or ''}".strip()))
    return results


def _set_clock(db, recipient_id, t, virtual):
    """Make the server see a request now as ``t`` seconds after delivery, and
    the earlier events at their own times before it."""
    rt.query(db, """
        UPDATE mail_tracked_recipient
           SET sent_date = (clock_timestamp() AT TIME ZONE 'UTC') - make_interval(secs => %s)
         WHERE id = %s""", (t, recipient_id))
    for event_id, event_t in virtual.items():
        rt.query(db, """
            UPDATE mail_tracked_event
               SET event_date = (clock_timestamp() AT TIME ZONE 'UTC') - make_interval(secs => %s)
             WHERE id = %s""", (t - event_t, event_id))
    rt.query(db, """
        UPDATE mail_tracked_recipient r
           SET first_open_date = (SELECT min(e.event_date) FROM mail_tracked_event e
                                   WHERE e.recipient_id = r.id AND e.event_type = 'open' AND e.is_counted)
         WHERE id = %s""", (recipient_id,))
    time.sleep(0.01)


def score(results):
    """``{"precision": {class: p}, "recall": {...}, "machine_recognised": r,
    "confusion": Counter((expected, got)), "errors": [...]}``."""
    confusion = Counter((event["expect"], source) for _name, event, source, _reason in results)
    precision, recall = {}, {}
    for cls in CLASSES:
        predicted = sum(count for (_expected, got), count in confusion.items() if got == cls)
        actual = sum(count for (expected, _got), count in confusion.items() if expected == cls)
        hits = confusion[(cls, cls)]
        precision[cls] = hits / predicted if predicted else None
        recall[cls] = hits / actual if actual else None
    machines = [(event, source) for _name, event, source, _reason in results if event["expect"] in MACHINE]
    recognised = sum(1 for _event, source in machines if source in MACHINE)
    errors = [(name, event, source, reason) for name, event, source, reason in results
              if source != event["expect"]]
    return {
        "precision": precision, "recall": recall, "events": len(results),
        "machine_recognised": recognised / len(machines) if machines else None,
        "confusion": confusion, "errors": errors,
    }


def markdown(scores):
    def pct(value):
        return "–" if value is None else f"{value * 100:.1f} %"

    lines = [f"Events replayed: {scores['events']}", "",
             "| source | precision | recall |", "|---|---|---|"]
    lines += [f"| {cls} | {pct(scores['precision'][cls])} | {pct(scores['recall'][cls])} |" for cls in CLASSES]
    lines += ["", f"Machine events (privacy_proxy, image_proxy, scanner) recognised as machines: "
                  f"**{pct(scores['machine_recognised'])}**", "",
              "Confusion (rows: expected, columns: classified):", "",
              "| expected \\ got | " + " | ".join(CLASSES) + " |", "|---" * (len(CLASSES) + 1) + "|"]
    for expected in CLASSES:
        lines.append(f"| {expected} | " + " | ".join(str(scores["confusion"][(expected, got)]) for got in CLASSES)
                     + " |")
    if scores["errors"]:
        lines += ["", "Misclassified:", ""]
        lines += [f"- {name}: {event['type']} at {event['t']} s from {event['address']} — expected "
                  f"{event['expect']}, got {source} ({reason})" for name, event, source, reason in scores["errors"]]
    return "\n".join(lines)


def meets_targets(scores):
    return (scores["precision"]["human"] >= HUMAN_PRECISION and scores["recall"]["human"] >= HUMAN_RECALL
            and scores["machine_recognised"] >= MACHINE_RECOGNISED)
