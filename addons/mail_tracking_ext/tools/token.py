"""Tracking tokens.

A token is 256 bits in two halves, base64url-encoded (2 x 22 characters):

* the **email's key**, the same for every copy of one email: the email's id
  encrypted under a key derived from the database secret (one AES block whose
  second half must decrypt to zeros, so a forged key is refused). It lets a
  click reach its destination even when the copy's tracking was deleted (a
  contact erased, the retention period, a copy whose delivery failed and was
  retried): the destination comes from the email's own link map, never from
  the request (T2, R2);
* the **copy's part**: 128 random bits, different for every copy.

The database keeps only the SHA-256 digest of the whole token: the lookup
compares digests, so timing reveals nothing about a valid token, and a
database dump holds no usable token. Tokens of one half (22 characters) were
issued before the email's key existed; they are looked up the same way.
"""
import base64
import functools
import hashlib
import hmac
import secrets

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

TOKEN_BYTES = 16
MESSAGE_KEY_LENGTH = 22  # characters of 16 bytes in base64url, unpadded
# Anything longer cannot be one of ours; refuse it before hashing.
MAX_TOKEN_LENGTH = 64


def new_token(message_key=""):
    """A new token for one copy of the email whose key is ``message_key``."""
    return message_key + secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token):
    """Return the hex digest stored for ``token``, or None if it cannot be ours."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@functools.lru_cache(maxsize=8)
def _cipher(secret):
    key = hmac.new(secret.encode(), b"mail_tracking_ext message key", hashlib.sha256).digest()[:16]
    return Cipher(algorithms.AES(key), modes.ECB())  # noqa: S305 - one block, never two alike


def message_key(message_id, secret):
    """The key of the email ``message_id`` in every token of its copies."""
    block = message_id.to_bytes(8, "big") + bytes(8)
    encrypted = _cipher(secret).encryptor().update(block)
    return base64.urlsafe_b64encode(encrypted).decode().rstrip("=")


def message_id_of(token, secret):
    """The id of the email whose key starts ``token``, or None if it has no genuine key."""
    if not token or len(token) != 2 * MESSAGE_KEY_LENGTH:
        return None
    key = token[:MESSAGE_KEY_LENGTH]
    try:
        encrypted = base64.urlsafe_b64decode(key + "==")
    except ValueError:
        return None
    # the last character also carries 4 unused bits: only the canonical spelling is ours
    if len(encrypted) != 16 or base64.urlsafe_b64encode(encrypted).decode().rstrip("=") != key:
        return None
    block = _cipher(secret).decryptor().update(encrypted)
    if block[8:] != bytes(8):
        return None
    return int.from_bytes(block[:8], "big") or None
