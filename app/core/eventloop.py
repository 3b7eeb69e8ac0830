"""The event loop every Candor process runs on.

The API runs under uvicorn, whose ``loop="auto"`` picks uvloop when it is installed (it is: it
comes with ``uvicorn[standard]``, and Candor names it itself). The worker and the other commands
run their coroutines through :func:`run`, so they get the same loop: one event loop to reason
about, in production and in the benchmarks that measure it (``bench/outbox_drain.py``).

Why uvloop: the worker's drain is bound by Python CPU per email, and a good part of that is the
event loop's own bookkeeping around each HTTP request and database round trip; uvloop does that
bookkeeping in C (decision record 0089 has the figures). Where uvloop cannot be imported (a
platform it does not support), asyncio's own loop runs the same code.

:func:`run` also freezes what the process has built by then (its modules, classes, mappers,
templates) out of the cyclic garbage collector, as the API's lifespan does (decision 0086): a
full collection otherwise walks all of it, about 70 ms of a worker's drain of 2,000 emails.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop constructor, or None (asyncio's default) where uvloop is not installed."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on every supported platform
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T], *, use_uvloop: bool = True) -> T:
    """``asyncio.run(main)`` on the service's event loop, what the process has imported by now
    kept out of the collector's passes (it lives as long as the process). ``use_uvloop=False``
    is for measuring asyncio's own loop against it (``bench/outbox_drain.py --asyncio-loop``)."""
    gc.freeze()
    with asyncio.Runner(loop_factory=loop_factory() if use_uvloop else None) as runner:
        return runner.run(main)
