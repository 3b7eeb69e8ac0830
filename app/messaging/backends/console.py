"""Development: each email printed (the demo's default)."""

from __future__ import annotations

from app.messaging.backends.base import OutgoingEmail


class ConsoleBackend:
    """Development: prints each email (the demo's default)."""

    async def send(self, email: OutgoingEmail) -> str:
        print(
            f"\n--- email {email.message_id} to {email.to}: {email.subject}\n{email.text}\n---",
            flush=True,
        )
        return f"console-{email.message_id}"

    async def aclose(self) -> None:
        return None
