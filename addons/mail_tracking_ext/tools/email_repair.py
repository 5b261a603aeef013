"""Make a broken email readable by Odoo's parser (R8).

Python's :mod:`email` package raises on some malformed input when Odoo reads it:
an address header it cannot parse (``From: sara@``), a character set it does
not know, a part of an impossible type (``Content-Type: /``). Odoo's gateway
then stops on the email, and fetchmail fetches it again at every run. These
functions mend what cannot be read, so that the email is logged or refused
with a reason like any other. Pure functions over :mod:`email` objects.
"""
import codecs
import re

# What looks like an address in a header Python cannot parse.
ADDRESS = re.compile(r"[^\s<>,;:\"()\[\]\\]+@[^\s<>,;:\"()\[\]\\]+\.[^\s<>,;:\"()\[\]\\]+")


def known_charset(charset):
    try:
        return not charset or bool(codecs.lookup(charset))
    except (LookupError, ValueError):  # ValueError: a NUL in the name
        return False


def _readable_header(policy, name, value):
    try:
        str(policy.header_fetch_parse(name, value))
    except Exception:  # noqa: BLE001 - whatever the parser raises on, the header is unreadable
        return False
    return True


def repair(message):
    """Mend ``message`` in place; whether anything had to be mended. Headers
    Python cannot parse keep the addresses they hold (or go); parts in an
    unknown character set are read as UTF-8; parts of a type nothing can
    read become plain bytes."""
    mended = False
    for part in message.walk():
        for name, value in list(part.raw_items()):
            if not _readable_header(part.policy, name, value):
                del part[name]
                addresses = ADDRESS.findall(str(value))
                if addresses:
                    part[name] = ", ".join(dict.fromkeys(addresses))
                mended = True
        if not known_charset(part.get_content_charset()):
            part.set_param("charset", "utf-8")
            mended = True
        if not part.is_multipart():
            try:
                part.get_content()
            except KeyError:  # no reader for this content type
                part.replace_header("Content-Type", "application/octet-stream")
                mended = True
    return mended
