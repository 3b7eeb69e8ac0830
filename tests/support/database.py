"""Reading the test database as a whole."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel


async def row_counts(session: AsyncSession) -> dict[str, int]:
    counts = {}
    for table in SQLModel.metadata.sorted_tables:
        counts[table.name] = int(await session.scalar(select(func.count()).select_from(table)) or 0)
    return counts
