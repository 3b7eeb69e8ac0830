"""SendGrid's Event Webhook endpoint: authenticated by its signature, not an API key."""

from __future__ import annotations

from fastapi import APIRouter, Request

from app.core.clock import utcnow
from app.core.database import SessionDep
from app.core.errors import PROBLEM_JSON, problem_responses
from app.core.settings import SettingsDep
from app.integrations.sendgrid import service
from app.integrations.sendgrid.schemas import (
    BATCH_SCHEMA,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    EventBatchResult,
)

router = APIRouter(prefix="/webhooks/sendgrid", tags=["webhooks"])


@router.post(
    "/events",
    summary="Receive SendGrid events",
    responses={
        **problem_responses(401, 409, 422),
        503: {
            "description": "The verification key is not configured (SendGrid retries later)",
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        },
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": BATCH_SCHEMA}},
        },
        "security": [],
        "parameters": [
            {
                "name": SIGNATURE_HEADER,
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
            },
            {
                "name": TIMESTAMP_HEADER,
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
            },
        ],
    },
)
async def receive_sendgrid_events(
    request: Request, session: SessionDep, settings: SettingsDep
) -> EventBatchResult:
    """SendGrid's signed Event Webhook (no API key: the ECDSA signature over the timestamp and
    the raw body, made within the last 5 minutes, is the authentication). Delivered, deferred,
    bounce, dropped and spam-report events update the message they name; a bounce or drop
    suppresses the address and gives the recruiter a fix-address task (R-CAND-5). Events are
    deduplicated by `sg_event_id`, so a retried batch changes nothing twice; unknown messages
    and other event kinds are counted as ignored. A 409 means a concurrent delivery of the same
    events won; retrying is safe."""
    body = await request.body()
    return await service.receive(
        session,
        public_key=settings.sendgrid_webhook_public_key,
        body=body,
        signature=request.headers.get(SIGNATURE_HEADER),
        timestamp=request.headers.get(TIMESTAMP_HEADER),
        now=utcnow(),
    )
