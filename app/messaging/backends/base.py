"""What every delivery backend shares: the email it is given, the failures it raises, the
protocol it implements, the custom arg that ties an email to its message (R-PV: not personal
data)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from app.core.models import line_safe

log = logging.getLogger("candor.email")

CUSTOM_ARG = "candor_message_id"
#: Emails a backend may have in flight at once (the outbox sends a batch concurrently).
MAX_IN_FLIGHT = 16


#: The fields of an email that become header lines (everything but the bodies).
HEADER_FIELDS = ("to", "subject", "from_email", "from_name", "reply_to")


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    """One email as every backend gets it. Its header fields are made single-line here, the one
    place every email passes, whatever the backend: input is validated, but a name or a job title
    stored before that (or written by an import) must still never add a header line (R-IN)."""

    message_id: int
    to: str
    subject: str
    text: str
    html: str
    from_email: str
    from_name: str
    cc: tuple[str, ...] = ()
    reply_to: str | None = None

    def __post_init__(self) -> None:
        for name in HEADER_FIELDS:
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, line_safe(value).strip())
        object.__setattr__(self, "cc", tuple(line_safe(a).strip() for a in self.cc))


class TransientFailure(Exception):
    """Worth retrying later (429, 5xx, timeouts); ``retry_after`` in seconds if the provider
    said so."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class PermanentFailure(Exception):
    """The provider will never accept this email as it is (4xx other than 429)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class EmailBackend(Protocol):
    async def send(self, email: OutgoingEmail) -> str:
        """Deliver; answer the provider's message id, or raise a Transient/PermanentFailure."""
        ...

    async def aclose(self) -> None:
        """Release connections (the worker calls it on the way out)."""
        ...
