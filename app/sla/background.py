"""The SLA domain's background work (decision 0050): firing due checks, once per worker round.

``sla.fire_due`` runs first among the sweepers: the checks it fires write the status messages
and nudges the messaging sweepers deliver in the same round.
"""

from __future__ import annotations

import logging

from app.sla import sweep
from app.worker.loop import CHECKS_FIRED
from app.worker.registry import SweepContext, sweeper

log = logging.getLogger("candor.worker")

FIRE_DUE = "sla.fire_due"


@sweeper(FIRE_DUE, order=10, counts_as=CHECKS_FIRED)
async def fire_due(ctx: SweepContext) -> int:
    """Every check due at the round's instant, in batches (``app.sla.sweep:run_due``)."""
    fired = await sweep.run_due(ctx.sessionmaker, now=ctx.now, batch=ctx.batch, lease=ctx.lease)
    if fired.fired:
        log.info("fired %d checks (claimed %d)", fired.fired, fired.claimed)
    return fired.fired
