"""A local SMTP server that catches every outgoing email, with a small web viewer.

Every message is kept in memory (raw bytes + envelope) and written as an
``.eml`` file. The HTTP viewer lists them and serves JSON for tests:

* ``GET /api/messages``    -> ``[{id, mail_from, rcpt_tos, subject, date, raw}]``
* ``DELETE /api/messages`` -> clears memory (the ``.eml`` files stay)

CLI::

    python3 -m devtools.mail_catcher --smtp-port 1025 --http-port 1080 --dir DIR

In-process (tests)::

    catcher = MailCatcher(smtp_port=0, http_port=0)
    catcher.start()
    ...  # send mail to 127.0.0.1:catcher.smtp_port
    catcher.wait_for(1)
    msg = catcher.messages()[0]          # email.message.EmailMessage
    catcher.stop()

Faults, as real SMTP servers make them (tests of what the sender does then)::

    catcher.refuse("bad@x.example")                        # RCPT answered 550 5.1.1 (permanent)
    catcher.refuse("busy@x.example", code=451, times=1)    # 451 once, then accepted
    catcher.drop_connection("flaky@x.example")             # connection closed after its DATA, once
    catcher.stall("slow@x.example", seconds=10)            # DATA never answered for 10 s, then closed, once
    catcher.clear_faults()
"""

import argparse
import asyncio
import email
import email.policy
import html
import json
import os
import re
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller


def _free_port(host="127.0.0.1"):
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclass
class CaughtMail:
    """One message as received over SMTP."""

    id: int
    mail_from: str
    rcpt_tos: list
    raw: bytes
    received: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def parsed(self):
        """The message, with its SMTP envelope's recipients in ``X-Envelope-To`` (Odoo 19.0's To
        header also names the email's other recipients: the envelope says whose copy it is)."""
        message = email.message_from_bytes(self.raw, policy=email.policy.default)
        message["X-Envelope-To"] = ", ".join(self.rcpt_tos)
        return message

    def summary(self):
        msg = self.parsed()
        return {
            "id": self.id,
            "mail_from": self.mail_from,
            "rcpt_tos": list(self.rcpt_tos),
            "from": str(msg.get("From", "")),
            "to": str(msg.get("To", "")),
            "subject": str(msg.get("Subject", "")),
            "date": str(msg.get("Date", "")) or self.received.isoformat(),
            "received": self.received.isoformat(),
            "raw": self.raw.decode("utf-8", "replace"),
        }


@dataclass
class _Refusal:
    code: int
    text: str
    times: int = None  # None: always


class _SmtpHandler:
    def __init__(self, catcher):
        self.catcher = catcher

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        refusal = self.catcher._take_refusal(address)
        if refusal:
            return f"{refusal.code} {refusal.text}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        stall = self.catcher._take_stall(envelope.rcpt_tos)
        if stall:
            # a server that hangs: the message is never answered, nor delivered
            await asyncio.sleep(stall)
            server.transport.close()
            return "421 closing"
        if self.catcher._take_drop(envelope.rcpt_tos):
            server.transport.close()  # the client sees the connection drop before any answer
            return "421 closing"
        self.catcher._store(envelope.mail_from, envelope.rcpt_tos, envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"


class MailCatcher:
    """SMTP catcher + HTTP viewer. Port 0 means "pick a free port"."""

    def __init__(self, smtp_port=0, http_port=0, directory=None, host="127.0.0.1", http_host=None):
        self.host = host
        self.http_host = http_host or host
        self.smtp_port = smtp_port or _free_port(host)
        self.http_port = http_port if http_port is not None else 0
        if self.http_port == 0:
            self.http_port = _free_port(self.http_host)
        self.directory = directory
        self._mails = []
        self._refusals = {}
        self._drops = set()
        self._stalls = {}
        self._next_id = 1
        self._lock = threading.Lock()
        self._controller = None
        self._httpd = None
        self._http_thread = None

    # -- lifecycle -------------------------------------------------------
    def start(self):
        if self.directory:
            os.makedirs(self.directory, exist_ok=True)
        # Odoo sends large bodies; lift aiosmtpd's 32 MiB default out of the way.
        self._controller = Controller(
            _SmtpHandler(self), hostname=self.host, port=self.smtp_port,
            data_size_limit=0, decode_data=False,
        )
        self._controller.start()
        if self.http_port >= 0:
            self._httpd = ThreadingHTTPServer((self.http_host, self.http_port), _make_http_handler(self))
            self._httpd.daemon_threads = True
            self.http_port = self._httpd.server_address[1]
            self._http_thread = threading.Thread(
                target=self._httpd.serve_forever, name="mail-catcher-http", daemon=True)
            self._http_thread.start()
        return self

    def stop(self):
        if self._controller:
            self._controller.stop()
            self._controller = None
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def http_url(self):
        return f"http://{self.http_host}:{self.http_port}"

    # -- faults ----------------------------------------------------------
    def refuse(self, address, code=550, text="5.1.1 No such user here", times=None):
        """Answer RCPT TO:<address> with ``code`` (``times`` times, or always)."""
        with self._lock:
            self._refusals[address.lower()] = _Refusal(code, text, times)

    def drop_connection(self, address):
        """Close the connection once, after the DATA of a message to ``address``, without answering."""
        with self._lock:
            self._drops.add(address.lower())

    def stall(self, address, seconds):
        """Once, leave the DATA of a message to ``address`` unanswered for ``seconds``, then
        close the connection without delivering it (a server that hangs, then is restarted)."""
        with self._lock:
            self._stalls[address.lower()] = seconds

    def clear_faults(self):
        with self._lock:
            self._refusals.clear()
            self._drops.clear()
            self._stalls.clear()

    def _take_refusal(self, address):
        with self._lock:
            refusal = self._refusals.get(address.lower())
            if refusal and refusal.times is not None:
                refusal.times -= 1
                if refusal.times <= 0:
                    del self._refusals[address.lower()]
            return refusal

    def _take_stall(self, rcpt_tos):
        with self._lock:
            for address in rcpt_tos:
                if address.lower() in self._stalls:
                    return self._stalls.pop(address.lower())
            return None

    def _take_drop(self, rcpt_tos):
        with self._lock:
            dropped = self._drops.intersection(address.lower() for address in rcpt_tos)
            self._drops -= dropped
            return bool(dropped)

    # -- storage ---------------------------------------------------------
    def _store(self, mail_from, rcpt_tos, raw):
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        with self._lock:
            mail = CaughtMail(self._next_id, mail_from, list(rcpt_tos), raw)
            self._next_id += 1
            self._mails.append(mail)
        if self.directory:
            stamp = mail.received.strftime("%Y%m%dT%H%M%S")
            path = os.path.join(self.directory, f"{stamp}-{os.getpid()}-{mail.id:05d}.eml")
            with open(path, "wb") as fh:
                fh.write(raw)
        return mail

    def raw_messages(self):
        """List of CaughtMail (raw bytes + envelope)."""
        with self._lock:
            return list(self._mails)

    def messages(self):
        """Caught messages parsed as ``email.message.EmailMessage``."""
        return [mail.parsed() for mail in self.raw_messages()]

    def get(self, mail_id):
        with self._lock:
            return next((m for m in self._mails if m.id == mail_id), None)

    def clear(self):
        with self._lock:
            self._mails.clear()

    def wait_for(self, count, timeout=10.0, interval=0.05):
        """Wait until at least ``count`` messages arrived; return them parsed.

        Raises TimeoutError with what did arrive, so a failing test says why.
        """
        deadline = time.monotonic() + timeout
        while True:
            mails = self.raw_messages()
            if len(mails) >= count:
                return [m.parsed() for m in mails]
            if time.monotonic() >= deadline:
                raise TimeoutError(f"expected {count} message(s) within {timeout}s, got {len(mails)}")
            time.sleep(interval)


def _html_body(msg):
    part = msg.get_body(preferencelist=("html",))
    if part is not None:
        return part.get_content()
    part = msg.get_body(preferencelist=("plain",))
    text = part.get_content() if part is not None else ""
    return f"<pre>{html.escape(text)}</pre>"


def _make_http_handler(catcher):
    class Handler(BaseHTTPRequestHandler):
        server_version = "MailCatcher/1"

        def log_message(self, fmt, *args):  # keep test and run output quiet
            pass

        def _send(self, status, body, ctype="text/html; charset=utf-8"):
            if isinstance(body, str):
                body = body.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            path = self.path.split("?", 1)[0]
            if path == "/api/messages":
                data = [m.summary() for m in catcher.raw_messages()]
                return self._send(200, json.dumps(data), "application/json")
            match = re.fullmatch(r"/messages/(\d+)(\.html|\.eml)?", path)
            if match:
                mail = catcher.get(int(match.group(1)))
                if mail is None:
                    return self._send(404, "not found", "text/plain")
                if match.group(2) == ".eml":
                    return self._send(200, mail.raw, "text/plain; charset=utf-8")
                if match.group(2) == ".html":
                    return self._send(200, _html_body(mail.parsed()))
                return self._send(200, _detail_page(mail))
            if path == "/":
                return self._send(200, _index_page(catcher.raw_messages()))
            return self._send(404, "not found", "text/plain")

        def do_DELETE(self):
            if self.path.split("?", 1)[0] == "/api/messages":
                catcher.clear()
                return self._send(200, "[]", "application/json")
            return self._send(404, "not found", "text/plain")

    return Handler


_STYLE = ("body{font-family:sans-serif;margin:1em}td,th{padding:4px 8px;text-align:left}"
          "tr:nth-child(even){background:#f4f4f4}")


def _index_page(mails):
    rows = []
    for mail in reversed(mails):
        info = mail.summary()
        rows.append(
            "<tr><td>{id}</td><td>{frm}</td><td>{to}</td><td><a href='/messages/{id}'>{subj}</a></td>"
            "<td>{date}</td><td><a href='/messages/{id}.eml'>raw</a></td></tr>".format(
                id=mail.id, frm=html.escape(info["from"] or mail.mail_from),
                to=html.escape(", ".join(mail.rcpt_tos)), subj=html.escape(info["subject"] or "(no subject)"),
                date=html.escape(info["date"]),
            )
        )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Mail catcher</title>"
        f"<meta http-equiv='refresh' content='10'><style>{_STYLE}</style></head><body>"
        f"<h1>Caught mail ({len(mails)})</h1><table><tr><th>#</th><th>From</th><th>To</th>"
        f"<th>Subject</th><th>Date</th><th></th></tr>{''.join(rows)}</table></body></html>"
    )


def _detail_page(mail):
    info = mail.summary()
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(info['subject'])}</title>"
        f"<style>{_STYLE}iframe{{width:100%;height:70vh;border:1px solid #ccc}}</style></head><body>"
        f"<p><a href='/'>&larr; all messages</a> | <a href='/messages/{mail.id}.eml'>raw source</a></p>"
        f"<table><tr><th>From</th><td>{html.escape(info['from'])}</td></tr>"
        f"<tr><th>To</th><td>{html.escape(info['to'])}</td></tr>"
        f"<tr><th>Envelope</th><td>{html.escape(mail.mail_from)} &rarr; "
        f"{html.escape(', '.join(mail.rcpt_tos))}</td></tr>"
        f"<tr><th>Subject</th><td>{html.escape(info['subject'])}</td></tr>"
        f"<tr><th>Date</th><td>{html.escape(info['date'])}</td></tr></table>"
        # sandboxed so the email's HTML cannot run script in the viewer
        f"<iframe sandbox src='/messages/{mail.id}.html'></iframe></body></html>"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description="Catch outgoing SMTP mail and show it on a web page.")
    parser.add_argument("--smtp-host", default=os.environ.get("MAIL_CATCHER_HOST", "127.0.0.1"))
    parser.add_argument("--smtp-port", type=int, default=int(os.environ.get("MAIL_CATCHER_SMTP_PORT", 1025)))
    parser.add_argument("--http-host", default="127.0.0.1")
    parser.add_argument("--http-port", type=int, default=int(os.environ.get("MAIL_CATCHER_HTTP_PORT", 1080)))
    parser.add_argument("--dir", default=None, help="write every message as an .eml file here")
    args = parser.parse_args(argv)

    catcher = MailCatcher(args.smtp_port, args.http_port, args.dir, host=args.smtp_host, http_host=args.http_host)
    catcher.start()
    print(f"Mail catcher: SMTP {args.smtp_host}:{catcher.smtp_port}, web http://localhost:{catcher.http_port}/"
          + (f", .eml files in {os.path.abspath(args.dir)}" if args.dir else ""), flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    catcher.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
