"""Every log line the suite makes, kept for the log test (R-PV: no personal data in logs).

``tests/conftest.py`` installs :class:`SuiteLogHandler` on the root logger for the whole run, at
the level production logs at (``info``; SQLAlchemy keeps its own namespace at ``warning``
unless echo is asked for, as in production). Tests that run the API or the worker in processes
of their own write those processes' output to :func:`process_log` files. ``tests/core/
test_logs.py`` runs last and reads all of it.
"""

from __future__ import annotations

import itertools
import logging
import re
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import event

from app.auth.models import User
from app.candidates.models import Candidate
from app.clients.models import Contact
from app.core.logs import install_log_hygiene

_DIR = Path(tempfile.mkdtemp(prefix="candor-suite-logs-"))
_numbers = itertools.count(1)
#: The formatted records of this process (message, and traceback where there is one).
IN_PROCESS = _DIR / "in-process.log"


def log_dir() -> Path:
    return _DIR


def process_log(name: str) -> Path:
    """A fresh file for one process's stdout and stderr."""
    return _DIR / f"process-{next(_numbers):04d}-{name}.log"


#: The logger the log test plants its leak through, with a handler of its own: the suite's
#: handler leaves it out, or the planted leak would fail the run it proves.
PLANTED = "tests.planted_leak"

#: Every personal value the suite wrote through the ORM (names, emails, phones of candidates,
#: contacts and users): what must never appear in a log line.
PERSONAL: set[str] = set()
PERSONAL_FIELDS: dict[type[Any], tuple[str, ...]] = {
    Candidate: ("first_name", "last_name", "email", "phone"),
    Contact: ("name", "email", "phone"),
    User: ("name", "email"),
}


class SuiteLogHandler(logging.FileHandler):
    """Formatted records (with tracebacks) into ``path``, at INFO and above."""

    def __init__(self, path: Path = IN_PROCESS) -> None:
        super().__init__(path, encoding="utf-8")
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        self.setLevel(logging.INFO)


class _NotPlanted(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith(PLANTED)


#: Off while the contract test fuzzes the API: its drawn "names" are arbitrary short strings
#: ("tasks", "0x0") that also occur as ordinary words of log lines, which would make the scan
#: fail on coincidences rather than leaks. The scan still covers every realistic name, email and
#: phone the rest of the suite writes through the same routes and log paths.
REMEMBERING = {"on": True}


def _remember(_mapper: Any, _connection: Any, target: Any) -> None:
    if not REMEMBERING["on"]:
        return
    for name in PERSONAL_FIELDS[type(target)]:
        value = getattr(target, name, None)
        if isinstance(value, str) and len(value) >= 3:
            PERSONAL.add(value)


def start_capture() -> None:
    # The app's own log policy (create_app installs it too) holds for the test process from
    # the start: the tests' HTTP clients would otherwise log each URL they call, tokens included.
    install_log_hygiene()
    handler = SuiteLogHandler()
    handler.addFilter(_NotPlanted())
    root = logging.getLogger()
    root.addHandler(handler)
    if root.getEffectiveLevel() > logging.INFO:
        root.setLevel(logging.INFO)
    for model in PERSONAL_FIELDS:
        event.listen(model, "after_insert", _remember)
        event.listen(model, "after_update", _remember)


EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
API_KEY = re.compile(r"\bcnd_[A-Za-z0-9_-]{8,}")
#: A private-link path whose token was not replaced by ``<token>``.
LINK_PATH = re.compile(r"/v1/(?:portal|opt-out)/(?!<token>)[A-Za-z0-9_-]{8,}")


def find_leaks(lines: list[str], personal: set[str]) -> list[tuple[str, str]]:
    """Each (what leaked, the line) among ``lines``: an email address, an API key, a private
    link's path, or one of the ``personal`` values as a whole word."""
    names = (
        re.compile(r"\b(?:" + "|".join(re.escape(v) for v in sorted(personal)) + r")\b")
        if personal
        else None
    )
    found: list[tuple[str, str]] = []
    for line in lines:
        for kind, pattern in (("email", EMAIL), ("api key", API_KEY), ("link path", LINK_PATH)):
            if match := pattern.search(line):
                found.append((f"{kind} {match.group(0)!r}", line))
        if names is not None and (match := names.search(line)):
            found.append((f"personal value {match.group(0)!r}", line))
    return found


def suite_lines() -> tuple[list[str], list[Path]]:
    """Every line logged so far: this process's records and every test process's output."""
    for handler in logging.getLogger().handlers:
        handler.flush()
    files = sorted(_DIR.glob("*.log"))
    lines: list[str] = []
    for path in files:
        lines += path.read_text(encoding="utf-8", errors="replace").splitlines()
    return lines, files
