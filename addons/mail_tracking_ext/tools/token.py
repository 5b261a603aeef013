"""Tracking tokens.

A token is 128 random bits, base64url-encoded (22 characters). The database
keeps only its SHA-256 digest: the lookup compares digests, so timing reveals
nothing about a valid token, and a database dump holds no usable token.
"""
import hashlib
import secrets

TOKEN_BYTES = 16
# Anything longer cannot be one of ours; refuse it before hashing.
MAX_TOKEN_LENGTH = 64


def new_token():
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token):
    """Return the hex digest stored for ``token``, or None if it cannot be ours."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
