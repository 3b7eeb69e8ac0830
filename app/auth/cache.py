"""Who a key belongs to, remembered for a few seconds per process (issue 14).

Authenticating every request with a database lookup cost a quarter of a GET's time. A process
now remembers key hash → principal for ``CANDOR_AUTH_CACHE_SECONDS`` (default 5; 0 turns it
off), at most ``MAX_ENTRIES`` keys, least recently used dropped first; only keys that were valid
are remembered, so unknown keys cannot fill it and are looked up every time.

**Revocation bound.** A change to keys, users or API clients made through the ORM (every write
in ``app.auth`` is: a key revoked, a user deactivated, a role changed) empties the cache of the
process that made it, when its session flushes and again when it commits, so that process
refuses the key at once. Every other process refuses it
once its entry is older than the TTL: within ``CANDOR_AUTH_CACHE_SECONDS`` everywhere.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from app.auth.models import ApiClient, ApiKey, User
from app.auth.principal import Principal

MAX_ENTRIES = 10_000
#: The records a principal is made of: a change to any of them may end a key's rights.
_AUTH_RECORDS = (ApiKey, User, ApiClient)


class PrincipalCache:
    """key hash → (principal, when it was looked up), in least-recently-used order."""

    def __init__(self, *, ttl_seconds: float = 5.0, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    def get(self, key_hash: str, *, now: float | None = None) -> Principal | None:
        found = self._entries.get(key_hash)
        if found is None:
            return None
        principal, looked_up = found
        if (time.monotonic() if now is None else now) - looked_up >= self.ttl_seconds:
            del self._entries[key_hash]
            return None
        self._entries.move_to_end(key_hash)
        return principal

    def put(self, key_hash: str, principal: Principal, *, now: float | None = None) -> None:
        if self.ttl_seconds <= 0:
            return
        self._entries[key_hash] = (principal, time.monotonic() if now is None else now)
        self._entries.move_to_end(key_hash)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


#: This process's cache (``app.main:create_app`` sets its TTL from the settings).
PRINCIPALS = PrincipalCache()


def _touches_auth(session: Session) -> bool:
    return any(
        isinstance(obj, _AUTH_RECORDS) for obj in (*session.new, *session.dirty, *session.deleted)
    )


@event.listens_for(Session, "after_flush")
def _forget_on_flush(session: Session, _context: Any) -> None:
    if _touches_auth(session):
        session.info["auth_changed"] = True
        PRINCIPALS.clear()


@event.listens_for(Session, "after_commit")
def _forget_on_commit(session: Session) -> None:
    # Again at commit: a request that read the old rows between this flush and this commit
    # may have remembered them.
    if session.info.pop("auth_changed", False):
        PRINCIPALS.clear()


@event.listens_for(Session, "after_rollback")
def _nothing_changed(session: Session) -> None:
    session.info.pop("auth_changed", None)
