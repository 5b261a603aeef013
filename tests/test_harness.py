"""The end-to-end harness itself: mail leaves Odoo over real SMTP and lands in the catcher."""

import json
import smtplib
import urllib.request
from email.message import EmailMessage


def test_mail_catcher_keeps_and_serves_messages(mail_catcher):
    mail_catcher.clear()
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@example.com", "b@example.com", "Catch me"
    msg.set_content("plain")
    msg.add_alternative("<p>html <a href='https://example.com'>link</a></p>", subtype="html")
    with smtplib.SMTP("127.0.0.1", mail_catcher.smtp_port) as smtp:
        smtp.send_message(msg)
    [caught] = mail_catcher.wait_for(1)
    assert caught["Subject"] == "Catch me"
    assert "example.com" in caught.get_body(("html",)).get_content()
    with urllib.request.urlopen(f"{mail_catcher.http_url}/api/messages") as resp:
        [listed] = json.loads(resp.read())
    assert listed["rcpt_tos"] == ["b@example.com"] and listed["subject"] == "Catch me"
    urllib.request.urlopen(urllib.request.Request(f"{mail_catcher.http_url}/api/messages", method="DELETE"))
    assert mail_catcher.messages() == []


def test_odoo_sends_mail_to_the_catcher(odoo_server, mail_catcher):
    mail_catcher.clear()
    mail_id = odoo_server.rpc("mail.mail", "create", {
        "subject": "Hello from Odoo", "email_from": "admin@example.com",
        "email_to": "customer@example.com", "body_html": "<p>Hi</p>",
    })
    odoo_server.rpc("mail.mail", "send", [mail_id])
    [caught] = mail_catcher.wait_for(1)
    assert caught["Subject"] == "Hello from Odoo"
    assert caught["To"] == "customer@example.com"
