"""The drain reads each submission's context row into ``Facts``, a named tuple built by
position from the context query's columns (issue 14: a SQLAlchemy row answers an attribute by a
failed lookup first). A column added, dropped or moved in one without the other would shift
every fact of every email silently (R-CAND-6: a confidential client named, R-CAND-5: an
opted-out candidate emailed); this keeps them in step."""

from __future__ import annotations

import pytest

from app.messaging.delivery import context


@pytest.mark.parametrize("postgresql", [True, False])
def test_facts_fields_are_the_context_querys_columns_in_order__R_CAND_6(postgresql: bool) -> None:
    columns = [column.name for column in context._context_query(postgresql).selected_columns]
    assert list(context.Facts._fields) == columns
