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
import tempfile
from pathlib import Path

_DIR = Path(tempfile.mkdtemp(prefix="candor-suite-logs-"))
_numbers = itertools.count(1)
#: The formatted records of this process (message, and traceback where there is one).
IN_PROCESS = _DIR / "in-process.log"


def log_dir() -> Path:
    return _DIR


def process_log(name: str) -> Path:
    """A fresh file for one process's stdout and stderr."""
    return _DIR / f"process-{next(_numbers):04d}-{name}.log"


class SuiteLogHandler(logging.FileHandler):
    def __init__(self) -> None:
        super().__init__(IN_PROCESS, encoding="utf-8")
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        self.setLevel(logging.INFO)
