"""create_app(): routers, middleware, error handlers, lifespan."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

import app.models  # noqa: F401 - every table registered before the first query
from app.auth.cache import PRINCIPALS
from app.auth.router import me_router
from app.auth.router import router as admin_router
from app.calendar.router import router as calendars_router
from app.candidates.router import router as candidates_router
from app.clients.router import router as clients_router
from app.core.database import make_engine, make_read_sessionmaker, make_sessionmaker
from app.core.errors import FieldError, Problem, install_error_handlers, problem_responses
from app.core.logs import install_log_hygiene
from app.core.middleware import BodySizeLimit, LastResort
from app.core.settings import Settings, get_settings
from app.events.router import router as events_router
from app.feedback.requests.router import router as feedback_requests_router
from app.feedback.router import router as feedback_router
from app.integrations.sendgrid.router import router as sendgrid_events_router
from app.interviews.router import router as interviews_router
from app.jobs.router import router as jobs_router
from app.messaging.optout.router import router as opt_out_router
from app.messaging.router import router as messages_router
from app.messaging.template_admin.router import router as templates_router
from app.portal.router import router as portal_router
from app.portal.router import staff_router as links_router
from app.sla.router import router as sla_router
from app.submissions.router import router as submissions_router
from app.tasks.router import router as tasks_router
from app.thank_you.router import router as notes_router

API_PREFIX = "/v1"
DESCRIPTION = """\
Candor keeps a staffing agency's candidates informed on a business-day clock, routes their
thank-you notes through the recruiter, and never pesters a client.

Authenticate with `Authorization: Bearer <key>`. Every error is RFC 9457
`application/problem+json`. Lists are cursor-paginated: pass `next_cursor` back as `cursor`.
All instants are RFC 3339 in UTC.
"""


#: R-AV: the database is busy (a lost race), unreachable or restarting; nothing was changed.
UNAVAILABLE = {
    **problem_responses(503)[503],
    "headers": {
        "Retry-After": {
            "description": "Seconds to wait before sending the same request again.",
            "schema": {"type": "integer", "minimum": 0},
        }
    },
}


def _operation_id(route: APIRoute) -> str:
    return route.name


def api_routers() -> list[APIRouter]:
    """Every domain's router, mounted under ``/v1`` one by one.

    Included directly into the app rather than through one parent router: FastAPI rebuilds the
    route table of nested includes on every request (several ms each), flat includes it does not.

    FastAPI finds a request's route by trying each included router's routes in this order, so
    the order is what a request pays for routing (issue 14: about a tenth of a GET's CPU when
    its router came seventh). No path is served by two routers
    (``tests/api/test_routing_order.py``), so the order changes nothing but cost: the records an
    ATS reads and syncs most come first, the agency's own administration last.
    """
    return [
        submissions_router,
        candidates_router,
        interviews_router,
        feedback_router,
        jobs_router,
        clients_router,
        tasks_router,
        notes_router,
        messages_router,
        sla_router,
        events_router,
        feedback_requests_router,
        portal_router,
        links_router,
        opt_out_router,
        sendgrid_events_router,
        calendars_router,
        templates_router,
        me_router,
        admin_router,
    ]


def create_app(
    settings: Settings | None = None, *, bind: AsyncEngine | AsyncConnection | None = None
) -> FastAPI:
    """Build the app. Tests pass their own connection; a process builds its own engine."""
    settings = settings or get_settings()
    own_engine = bind is None
    the_engine = (
        bind
        if bind is not None
        else make_engine(
            settings.database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
        )
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if own_engine:
            # A serving process: what is built by now (modules, routes, schemas, mappers) lives
            # as long as the process. Frozen, the cyclic collector's full passes skip it instead
            # of walking it all while every request in flight waits (issue 14: the p99).
            gc.freeze()
        yield
        if own_engine and isinstance(the_engine, AsyncEngine):
            await the_engine.dispose()

    # /docs and /redoc from the Swagger UI and ReDoc files installed with fastapi-offline (served
    # under /static-offline-docs), so the docs render on a machine without internet.
    app = FastAPIOffline(
        title="Candor",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        # No validator badge: it would call validator.swagger.io from the reader's browser.
        swagger_ui_parameters={"validatorUrl": None},
    )
    app.state.settings = settings
    # This process's memory of who each key belongs to starts empty with this app's bound.
    PRINCIPALS.ttl_seconds = settings.auth_cache_seconds
    PRINCIPALS.clear()
    app.state.sessionmaker = make_sessionmaker(the_engine)
    # Requests take a connection in arrival order (app.core.database:admitted); a test's single
    # bound connection has no pool to queue for.
    app.state.connection_gate = (
        asyncio.Semaphore(settings.db_pool_size + settings.db_max_overflow) if own_engine else None
    )
    app.state.read_sessionmaker = make_read_sessionmaker(the_engine)
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(LastResort)  # added last: the outermost of ours
    install_log_hygiene()

    @app.get("/health", tags=["health"], summary="Health check")
    async def health() -> dict[str, str]:
        """Liveness: answers without a key and without touching the database."""
        return {"status": "ok"}

    for router in api_routers():
        app.include_router(router, prefix=API_PREFIX)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The document, with the problem+json schema registered once for every error response."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    problem.pop("$defs", None)
    schemas["Problem"] = problem
    schemas["FieldError"] = FieldError.model_json_schema()
    # The body bound is enforced by middleware for every request, and every operation that
    # reaches the database may meet contention or an outage (R-AV): both are documented here once.
    too_large = problem_responses(413)[413]
    for path, methods in schema["paths"].items():
        for spec in methods.values():
            if "requestBody" in spec:
                spec["responses"].setdefault("413", too_large)
            if path != "/health":
                spec["responses"].setdefault("503", UNAVAILABLE)
    # FastAPI's default validation schemas are replaced by Problem everywhere.
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    app.openapi_schema = schema
    return schema
