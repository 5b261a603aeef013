"""Recover the original email from a forwarded one (L4).

Pure functions over :mod:`email` objects and text, no ORM. Two shapes are
understood: the original attached as a ``message/rfc822`` part ("forward as
attachment"), and the inline forward most clients produce, where the original
headers are quoted as text below a separator line.
"""
import re

# Separator lines of inline forwards (Gmail, Outlook, Apple Mail, Thunderbird), in
# the languages of the seeds' users; the header block follows them.
FORWARD_SEPARATOR = re.compile(
    r"^\s*(?:-{2,}\s*(?:forwarded message|original message|messaggio inoltrato|"
    r"messaggio originale|message transféré|message d'origine|nachricht|"
    r"weitergeleitete nachricht|ursprüngliche nachricht|mensaje reenviado|"
    r"mensaje original)\s*-{2,}|begin forwarded message:|inizio messaggio inoltrato:)\s*$",
    re.IGNORECASE | re.MULTILINE)
# Quoted header names, by meaning, as clients write them in several languages.
HEADER_NAMES = {
    "from": ("from", "da", "de", "von"),
    "date": ("date", "sent", "data", "inviato", "envoyé", "datum", "gesendet", "fecha", "enviado"),
    "subject": ("subject", "oggetto", "objet", "betreff", "asunto"),
    "to": ("to", "a", "à", "an", "para"),
    "cc": ("cc",),
}
HEADER_LINE = re.compile(r"^\s*\*?([^\s:*]{1,12})\*?\s*:\s*(.*)$")
FORWARD_SUBJECT = re.compile(r"^\s*(?:fwd?|fw|i|tr|wg|rv|enc)\s*:\s*", re.IGNORECASE)


# "Re:" in English and Italian ("R:"), German ("AW:"), Nordic ("SV:").
REPLY_SUBJECT = re.compile(r"^\s*(?:re|r|aw|sv)\s*:\s*", re.IGNORECASE)


def conversation_topic(subject):
    """``Re: Fwd: Our  Offer`` → ``our offer``: what the emails of one
    conversation share, as mail clients group them."""
    previous, subject = None, subject or ""
    while previous != subject:
        previous = subject
        subject = FORWARD_SUBJECT.sub("", REPLY_SUBJECT.sub("", subject, count=1), count=1)
    return " ".join(subject.split()).lower()


def attached_original(message):
    """The first ``message/rfc822`` part of ``message``, or None."""
    for part in message.walk():
        if part.get_content_type() == "message/rfc822":
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else payload
            if hasattr(inner, "walk"):
                return inner
    return None


def strip_forward_prefix(subject):
    """``Fwd: Offer`` → ``Offer`` (also I:, TR:, WG:, RV: prefixes)."""
    previous = None
    subject = subject or ""
    while previous != subject:
        previous, subject = subject, FORWARD_SUBJECT.sub("", subject, count=1)
    return subject.strip()


def parse_inline_forward(text):
    """Split the plain text of an inline forward into the original's quoted
    headers and body.

    Returns ``{"from", "date", "subject", "to", "cc", "body"}`` (missing
    headers are empty strings) or None when ``text`` holds no forwarded email
    with at least a sender.
    """
    match = FORWARD_SEPARATOR.search(text or "")
    if not match:
        return None
    lines = text[match.end():].lstrip("\r\n").splitlines()
    headers, index, last = {}, 0, None
    while index < len(lines):
        line = lines[index]
        if not line.strip():
            if headers:
                break
            index += 1
            continue
        header = HEADER_LINE.match(line)
        name = header and next(
            (key for key, names in HEADER_NAMES.items() if header.group(1).lower() in names), None)
        if name and name not in headers:
            headers[name], last = header.group(2).strip(), name
        elif last and line[:1].isspace():
            headers[last] += " " + line.strip()  # folded header line
        elif headers:
            break
        else:
            return None
        index += 1
    if not headers.get("from"):
        return None
    body = "\n".join(lines[index:]).strip("\r\n")
    return {key: headers.get(key, "") for key in HEADER_NAMES} | {"body": body}
