"""Query parameters the list endpoints share, so an ATS sync sees the same names everywhere."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query

from app.core.models import MAX_ID, NOT_SPACE, Instant
from app.core.pagination import PageParams, page_params

UpdatedSince = Annotated[
    Instant | None,
    Query(description="Only records changed at or after this instant (RFC 3339 with offset)."),
]
OwnerFilter = Annotated[
    int | None, Query(ge=1, le=MAX_ID, description="Owner recruiter's user id.")
]
CandidateFilter = Annotated[int | None, Query(ge=1, le=MAX_ID)]
JobFilter = Annotated[int | None, Query(ge=1, le=MAX_ID)]
ClientFilter = Annotated[int | None, Query(ge=1, le=MAX_ID)]
SubmissionFilter = Annotated[int | None, Query(ge=1, le=MAX_ID)]
ExternalIdFilter = Annotated[str | None, Query(min_length=1, max_length=128)]
ExternalIdPath = Annotated[
    str,
    Path(min_length=1, max_length=128, pattern=f"^{NOT_SPACE}+$", description="The ATS's own id."),
]
IdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="A record id.")]
Paging = Annotated[PageParams, Depends(page_params)]
