"""Query and update helpers every domain repository and service shares.

Kept deliberately small: the domain code still says what it loads and why; these only remove the
mechanics that would otherwise be copied into every domain (paging, 404s, partial updates).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Integer, Select, bindparam, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from app.core.clock import utcnow
from app.core.database import UTCDateTime
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.models import public_of
from app.core.pagination import Page, PageParams, make_page
from app.core.prepared import Prepared

M = TypeVar("M", bound=SQLModel)
P = TypeVar("P", bound=SQLModel)


def label(model: type[SQLModel]) -> str:
    return str(getattr(model, "__tablename__", model.__name__.lower())).replace("_", " ")


@functools.cache
def _by_id(model: type[M]) -> Select[tuple[M]]:
    """``SELECT … WHERE id = :record_id``, built once per model (issue 14, decision 0086): the
    statement keeps its cache key, so a GET by id runs an already compiled query."""
    return select(model).where(model.id == bindparam("record_id"))  # type: ignore[attr-defined]


async def get_or_404(
    session: AsyncSession,
    model: type[M],
    record_id: int,
    *,
    visible: ColumnElement[bool] | None = None,
) -> M:
    """The record, or 404 — also when it exists but ``visible`` hides it from the caller."""
    stmt = _by_id(model)
    if visible is not None:
        stmt = stmt.where(visible)
    found: M | None = (await session.execute(stmt, {"record_id": record_id})).scalar_one_or_none()
    if found is None:
        raise NotFound(f"No {label(model)} with id {record_id}.")
    return found


@functools.cache
def _prepared_row_by_id(model: type[SQLModel]) -> tuple[Prepared, tuple[str, ...]]:
    statement = _row_by_id(model)
    return Prepared(statement), tuple(statement.selected_columns.keys())


@functools.cache
def _row_by_id(model: type[SQLModel]) -> Select[Any]:
    """The table's columns by id, built once per model: rows, not ORM objects."""
    table: Any = model.__table__  # type: ignore[attr-defined]
    return select(*table.columns).where(table.c.id == bindparam("record_id"))


async def read_or_404(
    session: AsyncSession,
    model: type[SQLModel],
    public: type[P],
    record_id: int,
    *,
    visible: ColumnElement[bool] | None = None,
) -> P:
    """``get_or_404`` for a read that only answers: the row read straight into the response
    model, with no ORM object, instance state or identity map in between (issue 14)."""
    if visible is None:
        # Built once per model and run by the driver on PostgreSQL (app.core.prepared).
        by_id, names = _prepared_row_by_id(model)
        found = await by_id.rows(session, {"record_id": record_id})
        if not found:
            raise NotFound(f"No {label(model)} with id {record_id}.")
        return public_of(public, dict(zip(names, found[0], strict=True)))
    stmt = _row_by_id(model).where(visible)
    row = (await session.execute(stmt, {"record_id": record_id})).one_or_none()
    if row is None:
        raise NotFound(f"No {label(model)} with id {record_id}.")
    return public_of(public, row._mapping)


async def find_by_external_id(session: AsyncSession, model: type[M], external_id: str) -> M | None:
    stmt = select(model).where(model.external_id == external_id)  # type: ignore[attr-defined]
    return (await session.execute(stmt)).scalar_one_or_none()


async def fetch_page(
    session: AsyncSession,
    stmt: Select[tuple[M]],
    model: type[M],
    page: PageParams,
    public: type[P],
    *,
    updated_since: datetime | None = None,
) -> Page[P]:
    """One page of ``stmt``, converted to the public model: in id order, or with
    ``updated_since`` in ``(updated_at, id)`` keyset order from that instant (a sync; the
    contract is in ``app.core.pagination``)."""
    id_col: Any = model.id  # type: ignore[attr-defined]
    sync = updated_since is not None
    page.check_order(sync=sync)
    if updated_since is None:
        stmt = stmt.where(id_col > page.after_id).order_by(id_col)
    else:
        updated_col: Any = model.updated_at  # type: ignore[attr-defined]
        stmt = stmt.where(updated_col >= updated_since)
        if page.after_updated_at is not None:
            # One range of the (updated_at, id) index: a row comparison both databases plan so.
            stmt = stmt.where(
                tuple_(updated_col, id_col)
                > tuple_(
                    literal(page.after_updated_at, UTCDateTime()), literal(page.after_id, Integer())
                )
            )
        stmt = stmt.order_by(updated_col, id_col)
    # Rows of the table's columns, not ORM objects: a page is only answered, and loading 51
    # instances (state, identity map) cost more than the query (issue 14).
    table: Any = model.__table__  # type: ignore[attr-defined]
    rows: list[Any] = list(
        await session.execute(stmt.with_only_columns(*table.columns).limit(page.limit + 1))
    )
    items = [public_of(public, row._mapping) for row in rows]
    if len(items) <= page.limit:
        return make_page(items, limit=page.limit, id_of=None)
    last: Any = rows[page.limit - 1]
    return make_page(
        items, limit=page.limit, id_of=last.id, updated_at_of=last.updated_at if sync else None
    )


def apply_changes(record: SQLModel, changes: Mapping[str, Any]) -> list[str]:
    """Set the fields that really change; bump ``updated_at`` only then. Returns their names."""
    changed = [name for name, value in changes.items() if getattr(record, name) != value]
    for name in changed:
        setattr(record, name, changes[name])
    if changed and hasattr(record, "updated_at"):
        record.updated_at = utcnow()
    return changed


def where_all(stmt: Select[tuple[M]], *clauses: ColumnElement[bool] | None) -> Select[tuple[M]]:
    """Add every clause that is not ``None`` (an absent filter or an unrestricted principal)."""
    for clause in clauses:
        if clause is not None:
            stmt = stmt.where(clause)
    return stmt


def create_only_mismatch(
    record: SQLModel, data: Mapping[str, Any], fields: tuple[str, ...]
) -> str | None:
    """For upserts: the first create-only field (a parent id) that the update tries to change."""
    for name in fields:
        if name in data and data[name] is not None and data[name] != getattr(record, name):
            return name
    return None


async def ensure_external_id_free(
    session: AsyncSession, model: type[M], external_id: str | None, *, own_id: int | None
) -> None:
    """External ids are unique per record type (issue 2); a clash is a 409 that names the owner."""
    if external_id is None:
        return
    other = await find_by_external_id(session, model, external_id)
    if other is not None and other.id != own_id:  # type: ignore[attr-defined]
        raise Conflict(
            f"External id {external_id!r} already belongs to {label(model)} {other.id}."  # type: ignore[attr-defined]
        )


async def require_ref(
    session: AsyncSession,
    model: type[M],
    record_id: int,
    *,
    field: str,
    visible: ColumnElement[bool] | None = None,
) -> M:
    """A record named in a body: missing (or hidden from the caller) is a 422 on that field."""
    try:
        return await get_or_404(session, model, record_id, visible=visible)
    except NotFound:
        raise InvalidInput(field, f"No {label(model)} with id {record_id}.") from None


def check_path_external_id(data: SQLModel, external_id: str) -> None:
    """Upserts take the external id from the path; a different one in the body is a mistake."""
    given = getattr(data, "external_id", None)
    if given is not None and given != external_id:
        raise InvalidInput("body.external_id", "external_id in the body differs from the path.")
    data.external_id = external_id


def not_in_future(field: str, instant: datetime, now: datetime) -> None:
    """R-ST: an ATS may backdate what really happened (a move, a submission, feedback), never
    claim the future."""
    if instant > now:
        raise InvalidInput(field, "This instant is in the future; only past instants may be given.")


def upsert_responses(public: type[SQLModel]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` of a ``PUT …/by-external-id/{external_id}``: 200 when a record had
    that external id and was updated, 201 when none had and one was created."""
    return {
        200: {"model": public, "description": "Updated: a record had this external id"},
        201: {"model": public, "description": "Created: no record had this external id"},
    }
