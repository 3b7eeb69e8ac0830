"""Who is calling: a user (admin or recruiter), an API client, or the system itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from app.auth.models import Role

ActorType = Literal["user", "api_client", "system"]


@dataclass(frozen=True, slots=True)
class Principal:
    actor_type: ActorType
    actor_id: int | None
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role is Role.admin

    @property
    def is_recruiter(self) -> bool:
        """Recruiters see only what they own; everything else answers 404 to them."""
        return self.role is Role.recruiter

    @property
    def user_id(self) -> int | None:
        return self.actor_id if self.actor_type == "user" else None


#: The worker and the command line act as the system, with every right.
SYSTEM = Principal(actor_type="system", actor_id=None, role=Role.admin)
