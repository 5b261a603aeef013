"""Malformed and hostile emails, generated from a seed (R8): what a mail
gateway or an import meets when someone tries to break it, or when mail
clients get things wrong. Pure functions, no Odoo: ``generate(count, seed,
sender, customer, logging_address)`` returns ``[(kind, bytes)]``, the same for
the same seed."""
import base64
import io
import random
import zipfile
from email.utils import format_datetime, make_msgid

KINDS = (
    "broken_boundary", "unknown_charset", "wrong_charset", "raw_8bit_headers", "nested_rfc822",
    "header_injection", "missing_headers", "huge_header_line", "many_headers", "bad_addresses",
    "bad_dates", "bad_transfer_encoding", "bad_content_type", "null_bytes", "hostile_filenames",
    "hostile_inline_forward", "bad_encoded_words", "bare_lf_cr", "empty_parts", "deep_multipart",
)


def _headers(rng, sender, to, logging_address, subject=None, extra=()):
    headers = [
        ("From", sender), ("To", to), ("Delivered-To", logging_address),
        ("Subject", subject if subject is not None else f"Offer {rng.randrange(10 ** 6)}"),
        ("Date", format_datetime(_date(rng))), ("Message-ID", make_msgid(domain="hostile.example")),
        ("MIME-Version", "1.0"),
    ]
    return headers + list(extra)


def _date(rng):
    import datetime  # noqa: PLC0415

    return datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(
        seconds=rng.randrange(300 * 86400))


def _raw(headers, body, linesep=b"\r\n"):
    lines = []
    for name, value in headers:
        value = value if isinstance(value, bytes) else value.encode("utf-8", "surrogateescape")
        lines.append(name.encode() + b": " + value)
    body = body if isinstance(body, bytes) else body.encode("utf-8")
    return linesep.join(lines) + linesep + linesep + body


def _text(rng, words=30):
    vocabulary = ["offerta", "caffè", "prezzo", "ordine", "consegna", "grazie", "http://shop.example/p?id=1",
                  "naïve", "Größe", "日本語", "😀", "€"]
    return " ".join(rng.choice(vocabulary) for _ in range(words))


def broken_boundary(rng, common):
    boundary = f"b{rng.randrange(10 ** 9)}"
    shape = rng.randrange(4)
    parts = f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{_text(rng)}\r\n"
    if shape == 0:  # never closed
        body = parts + f"--{boundary}\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4 trunc"
    elif shape == 1:  # another boundary than declared
        body = parts.replace(boundary, "other") + "--other--\r\n"
    elif shape == 2:  # boundary inside a part's text, and a closing one first
        body = f"--{boundary}--\r\n" + parts + f"text --{boundary} more\r\n--{boundary}--\r\n"
    else:  # empty boundary parameter
        return common(extra=[("Content-Type", 'multipart/mixed; boundary=""')], body=parts)
    return common(extra=[("Content-Type", f'multipart/mixed; boundary="{boundary}"')], body=body)


def unknown_charset(rng, common):
    charset = rng.choice(["x-unknown-99", "utf-99", "", "unicode-1-1-utf-7", "cp65001", "\x00"])
    return common(extra=[("Content-Type", f"text/plain; charset={charset}"),
                         ("Content-Transfer-Encoding", "8bit")],
                  body=_text(rng).encode("utf-8"))


def wrong_charset(rng, common):
    text = _text(rng)
    declared, actual = rng.choice([("utf-8", "latin-1"), ("us-ascii", "utf-8"), ("utf-16", "utf-8"),
                                   ("iso-2022-jp", "utf-8"), ("shift_jis", "latin-1")])
    body = text.encode(actual, "replace")
    subtype = rng.choice(["plain", "html"])
    if subtype == "html":
        body = b"<html><body><p>" + body + b"</p></body></html>"
    return common(extra=[("Content-Type", f"text/{subtype}; charset={declared}"),
                         ("Content-Transfer-Encoding", "8bit")], body=body)


def raw_8bit_headers(rng, common):
    garbage = rng.choice([
        "Caffè Größe".encode("latin-1"), "日本語の件名".encode("shift_jis"), b"\xff\xfe\xfa invalid utf-8",
        "Ünïcödé 😀".encode()])
    return common(subject=b"Offerta " + garbage, sender_name=garbage,
                  extra=[("Content-Type", "text/plain; charset=utf-8")], body=_text(rng))


def nested_rfc822(rng, common, depth=10):
    inner = _raw([("From", "Carla <carla@acme.example>"), ("To", "sara@mycompany.example"),
                  ("Subject", "level 0"), ("Content-Type", "text/plain; charset=utf-8")], _text(rng))
    for level in range(1, depth):
        boundary = f"n{level}x{rng.randrange(10 ** 6)}"
        inner = _raw([
            ("From", "Carla <carla@acme.example>"), ("To", "sara@mycompany.example"),
            ("Subject", f"Fwd: level {level}"),
            ("MIME-Version", "1.0"), ("Content-Type", f'multipart/mixed; boundary="{boundary}"')],
            f"--{boundary}\r\nContent-Type: text/plain\r\n\r\nforwarded\r\n--{boundary}\r\n"
            "Content-Type: message/rfc822\r\n\r\n".encode() + inner + f"\r\n--{boundary}--\r\n".encode())
    boundary = f"top{rng.randrange(10 ** 6)}"
    to_logging_only = rng.random() < 0.5  # a forward to the logging address: the original is looked for
    return common(to_logging_only=to_logging_only,
                  extra=[("Content-Type", f'multipart/mixed; boundary="{boundary}"')],
                  body=f"--{boundary}\r\nContent-Type: text/plain\r\n\r\nsee below\r\n--{boundary}\r\n"
                       "Content-Type: message/rfc822\r\n\r\n".encode() + inner + f"\r\n--{boundary}--\r\n".encode())


def header_injection(rng, common):
    subject = rng.choice([
        "=?utf-8?q?Hello=0D=0ABcc:_victim@evil.example?=",
        "=?utf-8?b?" + base64.b64encode(b"Hi\r\nBcc: victim@evil.example\r\n\r\nbody").decode() + "?=",
        "Hi\rBcc: victim@evil.example", "Hi\nX-Injected: yes",
        "=?utf-8?q?Hello=0ATo:_all@evil.example=0A=0A<script>alert(1)</script>?="])
    return common(subject=subject, extra=[("Content-Type", "text/plain; charset=utf-8")], body=_text(rng),
                  to_logging_only=rng.random() < 0.3)


def missing_headers(rng, common):
    drop = rng.sample(["From", "To", "Subject", "Date", "Message-ID", "MIME-Version"], rng.randrange(1, 5))
    return common(drop=drop, extra=[("Content-Type", "text/plain; charset=utf-8")], body=_text(rng))


def huge_header_line(rng, common):
    size = rng.choice([100_000, 1_000_000])
    name = rng.choice(["Subject", "X-Huge", "References", "To"])
    # address lines are cut at 100 KB, as mail servers do (Postfix's header_size_limit): Python's
    # address parser takes half a minute on a megabyte of them, in Odoo's parser before the addon's turn
    value = ("a" * size) if name != "To" else ", ".join(f"x{i}@acme.example" for i in range(150)) + "a" * 50_000
    if name == "References":
        value = " ".join(f"<{i}@x>" for i in range(100_000 // 8))
    return common(**({"subject": value} if name == "Subject" else {"extra": [(name, value)]}), body=_text(rng))


def many_headers(rng, common):
    return common(extra=[(f"X-Header-{i}", "v" * 20) for i in range(rng.choice([1000, 20_000]))], body=_text(rng))


def bad_addresses(rng, common):
    sender = rng.choice([
        "<>", "Sara Sales", "sara@", "@mycompany.example", '"Sara, Sales" <sara@mycompany.example',
        "undisclosed-recipients:;", "Sara <sara@mycompany.example>, Mallory <m@evil.example>",
        "sara@mycompany.example <carla@acme.example>", "=?utf-8?q?Sara?= <sara@xn--mycmpany-z2a.example>",
        "Sara <sara@[127.0.0.1]>", "sara(comment)@mycompany.example", "a" * 5000 + "@mycompany.example"])
    to = rng.choice(["", "undisclosed-recipients:;", "carla@acme.example,,,,", "<<carla@acme.example>>",
                     "Carla <carla@acme.example", "group: carla@acme.example, anna@acme.example;"])
    return common(sender=sender, to=to, extra=[("Content-Type", "text/plain")], body=_text(rng))


def bad_dates(rng, common):
    date = rng.choice(["yesterday", "Mon, 32 Feb 99999 25:61:61 +9999", "", "0", "Thu, 01 Jan 1970 00:00:00 -2400",
                       "2025-13-45T99:99:99Z", "Fri, 31 Dec 9999 23:59:59 +0000"])
    return common(date=date, extra=[("Content-Type", "text/plain")], body=_text(rng))


def bad_transfer_encoding(rng, common):
    encoding, body = rng.choice([
        ("base64", b"!!!not base64 at all%%%\r\n===="), ("base64", base64.b64encode(b"x" * 1000)[:-3]),
        ("quoted-printable", b"=ZZ=\r\n=0=\r\n=E8=e8=="), ("x-uuencode", b"begin 644 x\r\n`\r\nend\r\n"),
        ("7bit", "caffè 8-bit in 7bit".encode()), ("binary", bytes(range(256)))])
    content_type = rng.choice(["text/plain; charset=utf-8", "text/html; charset=utf-8"])
    if rng.random() < 0.5:  # as an attachment
        boundary = "att"
        body = (b"--att\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--att\r\n"
                b"Content-Type: application/octet-stream; name=x.bin\r\nContent-Disposition: attachment; "
                b"filename=x.bin\r\nContent-Transfer-Encoding: " + encoding.encode() + b"\r\n\r\n" + body
                + b"\r\n--att--\r\n")
        return common(extra=[("Content-Type", f'multipart/mixed; boundary="{boundary}"')], body=body)
    return common(extra=[("Content-Type", content_type), ("Content-Transfer-Encoding", encoding)], body=body)


def bad_content_type(rng, common):
    content_type = rng.choice([
        "multipart/mixed", "multipart/alternative; boundary=", "text", "/", ";;;", "message/rfc822",
        "image/png; name=\"x.png", "application/ms-tnef", "multipart/digest; boundary=d",
        "text/plain; charset=utf-8; format=flowed; delsp=yes; " + "x=y; " * 500])
    return common(extra=[("Content-Type", content_type)], body=_text(rng))


def null_bytes(rng, common):
    return common(subject="Null\x00byte", extra=[("Content-Type", "text/html; charset=utf-8"),
                                                 ("X-Null", "a\x00b")],
                  body=b"<p>before\x00after</p>\x00" + _text(rng).encode())


def hostile_filenames(rng, common):
    name = rng.choice(["../../../../etc/passwd", "x" * 10_000 + ".pdf", "con.txt", "", "\x00.exe",
                       "=?utf-8?q?=0D=0A.pdf?=", "a\r\nb.pdf", "<script>.html"])
    header = rng.choice([f'attachment; filename="{name}"', "attachment; filename*=utf-8''%ZZ%E8%",
                         "attachment; filename*0*=x; filename*2=y", f"attachment; filename={name}"])
    body = (b"--f\r\nContent-Type: text/plain\r\n\r\nfile\r\n--f\r\nContent-Type: application/pdf\r\n"
            b"Content-Disposition: " + header.encode("utf-8", "surrogateescape") +
            b"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64.b64encode(b"%PDF-1.4 x") + b"\r\n--f--\r\n")
    return common(extra=[("Content-Type", 'multipart/mixed; boundary="f"')], body=body)


def hostile_inline_forward(rng, common):
    quoted_from = rng.choice(["", "<>", "Carla <carla@acme.example>", "a" * 3000, "=?x?q?bad?="])
    date = rng.choice(["", "not a date", "99/99/9999", "Mon, 3 Mar 2025 at 10:00"])
    text = (f"FYI\r\n\r\n---------- Forwarded message ---------\r\nFrom: {quoted_from}\r\nDate: {date}\r\n"
            f"Subject: {'x' * rng.choice([10, 100_000])}\r\nTo: " + ", ".join(
                f"p{i}@acme.example" for i in range(rng.choice([1, 500]))) + "\r\n\r\n" + _text(rng))
    return common(to_logging_only=True, subject="Fwd: something",
                  extra=[("Content-Type", "text/plain; charset=utf-8")], body=text)


def bad_encoded_words(rng, common):
    subject = rng.choice(["=?utf-8?q?unterminated", "=?x-unknown?q?abc?=", "=?utf-8?b?####?=",
                          "=?utf-8?z?abc?=", "=?utf-8*fr?q?x?=", "=?" * 500, "=?utf-8?b?" + "QUJD" * 20000 + "?="])
    return common(subject=subject, sender_name=rng.choice(["=?utf-8?q?Sara=?=", "=?utf-8?b?=?="]),
                  extra=[("Content-Type", "text/plain")], body=_text(rng))


def bare_lf_cr(rng, common):
    raw = common(extra=[("Content-Type", "text/plain; charset=utf-8")], body=_text(rng) + "\r\nline\nline\rline")
    return raw.replace(b"\r\n", rng.choice([b"\n", b"\r", b"\n\r"]))


def empty_parts(rng, common):
    body = rng.choice([b"", b"--e--\r\n", b"--e\r\n\r\n--e\r\n\r\n--e--\r\n",
                       b"--e\r\nContent-Type: text/plain\r\n--e--"])
    return common(extra=[("Content-Type", 'multipart/mixed; boundary="e"')], body=body)


def deep_multipart(rng, common, depth=None):
    depth = depth or rng.choice([20, 60])
    body = b"innermost"
    for level in range(depth):
        body = (f"--l{level}\r\nContent-Type: multipart/mixed; boundary=\"l{level - 1}\"\r\n\r\n".encode()
                if level else b"--l0\r\nContent-Type: text/plain\r\n\r\n") + body + f"\r\n--l{level}--\r\n".encode()
    return common(extra=[("Content-Type", f'multipart/mixed; boundary="l{depth - 1}"')], body=body)


def generate(count, seed, sender, customer, logging_address, trusted_header=None):
    """``count`` malformed emails ``[(kind, bytes)]``, every kind in turn; most
    from ``sender`` (authenticated with ``trusted_header`` when given, so that
    they reach the logging itself), some from strangers."""
    rng = random.Random(seed)
    generators = [globals()[kind] for kind in KINDS]
    emails = []
    for index in range(count):
        kind = KINDS[index % len(KINDS)]

        def common(subject=None, sender_name=None, sender=sender, to=customer, extra=(), body=b"", drop=(),
                   date=None, to_logging_only=False):
            if sender_name is not None:
                sender = (sender_name if isinstance(sender_name, bytes) else sender_name.encode()) + \
                    b" <" + sender.split("<")[-1].strip(">").encode() + b">"
            headers = _headers(rng, sender, logging_address if to_logging_only else to, logging_address, subject)
            if date is not None:
                headers = [(name, date if name == "Date" else value) for name, value in headers]
            if trusted_header and rng.random() < 0.9:
                headers.insert(0, ("Authentication-Results", trusted_header))
            headers = [(name, value) for name, value in headers if name not in drop] + list(extra)
            return _raw(headers, body)

        emails.append((kind, generators[KINDS.index(kind)](rng, common)))
    return emails


def zip_bomb(megabytes=1024):
    """A small zip file holding ``megabytes`` of zeros (a few hundred times its size)."""
    buffer = io.BytesIO()
    chunk = b"\0" * (1024 * 1024)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive, \
            archive.open("[Content_Types].xml", "w", force_zip64=True) as entry:
        for _index in range(megabytes):
            entry.write(chunk)
    return buffer.getvalue()


def with_attachment(headers_raw_email, name, content, mimetype="application/zip"):
    """An email (bytes from ``generate``'s common shape) rebuilt with one attachment."""
    head, _sep, body = headers_raw_email.partition(b"\r\n\r\n")
    head = b"\r\n".join(line for line in head.split(b"\r\n") if not line.lower().startswith(b"content-type"))
    return (head + b'\r\nContent-Type: multipart/mixed; boundary="big"\r\n\r\n--big\r\n'
            b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + body + b"\r\n--big\r\nContent-Type: "
            + mimetype.encode() + b'; name="' + name.encode() + b'"\r\nContent-Disposition: attachment; filename="'
            + name.encode() + b'"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
            + base64.encodebytes(content).replace(b"\n", b"\r\n") + b"--big--\r\n")
