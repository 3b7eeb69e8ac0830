"""API keys and private-link tokens: random, recognisable, stored only as a keyed hash.

A key is ``cnd_`` followed by 256 random bits (URL-safe base64). The database keeps
HMAC-SHA256(secret_key, key): a copy of the database alone is not enough to test guesses against,
and lookups stay a single indexed equality. Rotating ``CANDOR_SECRET_KEY`` therefore invalidates
every key (see docs/decisions/0002-api-keys.md).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

KEY_PREFIX = "cnd_"
_SHOWN_PREFIX = 12


@dataclass(frozen=True, slots=True)
class NewKey:
    key: str
    prefix: str
    key_hash: str


def hash_key(secret: str, key: str) -> str:
    # The one-shot form: the same HMAC, without building an HMAC object per call (every API
    # request and every private link in an email hashes one).
    return hmac.digest(secret.encode(), key.encode(), hashlib.sha256).hex()


def generate_key(secret: str, *, prefix: str = KEY_PREFIX) -> NewKey:
    key = prefix + secrets.token_urlsafe(32)
    return NewKey(key=key, prefix=key[:_SHOWN_PREFIX], key_hash=hash_key(secret, key))
