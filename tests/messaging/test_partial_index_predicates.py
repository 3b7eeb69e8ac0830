"""The drain's hot statements state their partial index's predicate as literal SQL (issue 14).

PostgreSQL may cache a generic plan for a prepared statement; a generic plan cannot prove a
partial index's predicate from bound values (``state IN ($1, $2)``), so it falls back to
scanning the table: every message ever sent for the claim, every open promise per email for
settling (measured: 0.1 ms per email, growing with the table). Generated over the drain's
statements and the index each relies on, the predicate read from the index itself, so an index
reworded without its statements (or the reverse) fails here. R-CAND-1 (promises kept on time)
and R-CAND-4 (one email a day) rest on these statements."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.dialects import postgresql

from app.messaging.delivery import claims, context, promises
from app.messaging.models import Audience, Message, Promise

STATEMENTS: list[tuple[str, Callable[[], Any], Any, str]] = [
    (
        "claim, candidates",
        lambda: claims._claim_statements(Audience.candidate, True)[0],
        Message,
        "ix_message_pending_send",
    ),
    (
        "claim, contacts",
        lambda: claims._claim_statements(Audience.contact, True)[0],
        Message,
        "ix_message_pending_send",
    ),
    ("settle, per email", promises._keep_statement, Promise, "ix_promise_open_submission"),
    (
        "settle, per chunk",
        lambda: promises._keep_all_statement().statement,
        Promise,
        "ix_promise_open_submission",
    ),
    ("context", lambda: context._context_query(True), Promise, "ix_promise_open_submission"),
]


def predicate(model: Any, index_name: str) -> str:
    [index] = [i for i in model.__table__.indexes if i.name == index_name]
    return str(index.dialect_options["postgresql"]["where"])


@pytest.mark.parametrize(
    ("name", "build", "model", "index"), STATEMENTS, ids=[s[0] for s in STATEMENTS]
)
def test_the_statement_carries_its_partial_indexs_predicate_literally__R_CAND_1_R_CAND_4(
    name: str, build: Callable[[], Any], model: Any, index: str
) -> None:
    dialect: Any = postgresql.dialect  # untyped in SQLAlchemy
    sql = str(build().compile(dialect=dialect()))
    assert predicate(model, index) in sql, f"{name}: {sql}"
