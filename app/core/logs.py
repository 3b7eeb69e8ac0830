"""What may reach a log line (R-PV): ids, methods, statuses, rule names, never a private link.

A candidate's private link (``/v1/portal/<token>``, ``/v1/opt-out/<token>``) is a credential:
whoever reads it in a log can act as the candidate. Every path a log line shows goes through
:func:`redact_path`, which replaces the segment after a token prefix with ``<token>``; query
strings keep their parameter names only, since values (``external_id=…``, a cursor) can be
anything a caller typed. The uvicorn access log gets the same treatment through
:class:`AccessLogRedaction`, installed by ``create_app`` (and the worker) whatever server runs
the app.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl

#: Prefixes whose next path segment is a private-link token (the token is the credential).
TOKEN_PREFIXES = ("/v1/portal/", "/v1/opt-out/")
TOKEN_PLACEHOLDER = "<token>"  # noqa: S105 - what replaces a token, not one
_TOKEN_PATH = re.compile(
    "^(" + "|".join(re.escape(prefix) for prefix in TOKEN_PREFIXES) + ")[^/?#]+"
)


def redact_path(path: str) -> str:
    """``/v1/portal/abc123/note?x=1`` → ``/v1/portal/<token>/note?x=…``."""
    path, _, query = path.partition("?")
    path = _TOKEN_PATH.sub(lambda m: m.group(1) + TOKEN_PLACEHOLDER, path)
    if not query:
        return path
    names = [name for name, _ in parse_qsl(query, keep_blank_values=True)]
    return path + "?" + "&".join(f"{name}=…" for name in names)


class AccessLogRedaction(logging.Filter):
    """Rewrites the path in uvicorn's access log records (``args`` is ``(client, method, path,
    http_version, status)``); any other record passes untouched."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], redact_path(args[2]), args[3], args[4])
        return True


#: Clients that log every request's full URL at INFO (a URL can carry a token or an address).
CHATTY_CLIENT_LOGGERS = ("httpx", "httpcore")


def install_log_hygiene() -> None:
    """Idempotent, process-wide: every app built in one process shares these loggers. The
    access log's paths are redacted; HTTP client libraries log at WARNING and above only."""
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, AccessLogRedaction) for f in logger.filters):
        logger.addFilter(AccessLogRedaction())
    for name in CHATTY_CLIENT_LOGGERS:
        client_logger = logging.getLogger(name)
        if client_logger.level < logging.WARNING:
            client_logger.setLevel(logging.WARNING)
