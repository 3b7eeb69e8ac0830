"""What SendGrid's Event Webhook sends and what Candor answers: the signature headers, the
batch's JSON schema (for the OpenAPI document; the body is read raw, so the signature can be
checked over the exact bytes) and the batch result."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from app.messaging.backends import CUSTOM_ARG

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"

#: A batch as SendGrid sends it (the fields Candor reads).
BATCH_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["sg_event_id", "event"],
        "properties": {
            "sg_event_id": {"type": "string", "maxLength": 100},
            "event": {"type": "string", "examples": ["delivered", "bounce"]},
            "email": {"type": "string"},
            "timestamp": {"type": "integer", "description": "Unix seconds."},
            CUSTOM_ARG: {"type": "string", "description": "Candor's message id."},
        },
    },
}


class EventRefusal(BaseModel):
    """One event of the batch that was skipped because a field Candor reads is malformed."""

    index: int = Field(description="The event's position in the batch, from 0.")
    field: str = Field(description="The field at fault, e.g. `sg_event_id`.")
    reason: str


class EventBatchResult(BaseModel):
    """What became of a batch: every received event is exactly one of applied, duplicate,
    ignored (not ours to act on) or refused (malformed: skipped, the rest still applied)."""

    received: int
    applied: int
    duplicates: int
    ignored: int
    refused: int = 0
    refusals: list[EventRefusal] = Field(default_factory=list)
