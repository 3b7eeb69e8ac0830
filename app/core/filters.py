"""Query parameters the list endpoints share, so an ATS sync sees the same names everywhere."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query

from app.core.models import MAX_ID, ExternalId, Instant, Token
from app.core.pagination import PageParams, page_params

UpdatedSince = Annotated[
    Instant | None,
    Query(
        description="Only records changed at or after this instant (RFC 3339 with offset). "
        "The list is then a sync: ordered by `updated_at`, then `id`, and paged by keyset, so a "
        "page costs the same however large the table. A record changed again during the walk "
        "is read again at its end (keep the latest per id); a change whose transaction commits "
        "after the walk passed its `updated_at` is not seen by this walk, so start the next "
        "sync from the greatest `updated_at` seen minus a minute. The event feed "
        "(`/v1/events`) is the stream that skips nothing. A cursor from a list without "
        "`updated_since` is not valid here (422), and the other way round."
    ),
]
OwnerFilter = Annotated[
    int | None, Query(ge=1, le=MAX_ID, description="Owner recruiter's user id.")
]
CandidateFilter = Annotated[int | None, Query(ge=1, le=MAX_ID)]
JobFilter = Annotated[int | None, Query(ge=1, le=MAX_ID)]
ClientFilter = Annotated[int | None, Query(ge=1, le=MAX_ID)]
SubmissionFilter = Annotated[int | None, Query(ge=1, le=MAX_ID)]
ExternalIdFilter = Annotated[ExternalId | None, Query(min_length=1, max_length=128)]
ExternalIdPath = Annotated[
    Token, Path(min_length=1, max_length=128, description="The ATS's own id.")
]
IdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="A record id.")]
Paging = Annotated[PageParams, Depends(page_params)]
