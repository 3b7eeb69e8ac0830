"""Imports every table module, so metadata is complete for Alembic and the app alike."""

from app.auth import models as auth_models
from app.calendar import models as calendar_models
from app.candidates import models as candidate_models
from app.clients import models as client_models
from app.events import models as event_models
from app.feedback import models as feedback_models
from app.interviews import models as interview_models
from app.jobs import models as job_models
from app.messaging import models as messaging_models
from app.portal import models as portal_models
from app.sla import models as sla_models
from app.submissions import models as submission_models
from app.tasks import models as task_models
from app.thank_you import models as thank_you_models
from app.worker import models as worker_models

__all__ = [
    "auth_models",
    "calendar_models",
    "candidate_models",
    "client_models",
    "event_models",
    "feedback_models",
    "interview_models",
    "job_models",
    "messaging_models",
    "portal_models",
    "sla_models",
    "submission_models",
    "task_models",
    "thank_you_models",
    "worker_models",
]
