"""Domain errors and the one handler that renders every failure as RFC 9457 problem+json.

Services raise ``AppError`` subclasses (never ``HTTPException``); the handlers here turn them,
FastAPI's validation errors, Starlette's HTTP errors, database conflicts and anything unexpected
into ``application/problem+json`` with a stable ``type`` and, for bad input, the fields at fault.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Sequence
from typing import Any

from asyncpg.exceptions import ConnectionDoesNotExistError  # type: ignore[import-untyped]
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from app.core.logs import redact_path

log = logging.getLogger("candor.errors")

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:candor:problem:"


class FieldError(BaseModel):
    """One thing wrong with the input, and where (``body.email``, ``query.limit``)."""

    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details, as every 4xx and 5xx answer carries them."""

    type: str = Field(examples=[f"{TYPE_PREFIX}not-found"])
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldError] | None = None
    allowed: list[str] | None = Field(
        default=None, description="For refused moves: the moves that are allowed from here."
    )


class AppError(Exception):
    """Base of every error a service raises on purpose."""

    status: int = 400
    slug: str = "bad-request"
    title: str = "Bad request"

    def __init__(
        self,
        message: str,
        *,
        errors: Sequence[FieldError] | None = None,
        allowed: Sequence[str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.errors = list(errors) if errors else None
        self.allowed = list(allowed) if allowed is not None else None
        self.headers = headers


class Unauthorized(AppError):
    status, slug, title = 401, "unauthorized", "Unauthorized"

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(AppError):
    status, slug, title = 403, "forbidden", "Forbidden"


class NotFound(AppError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(AppError):
    status, slug, title = 409, "conflict", "Conflict"


class StageMoveRefused(Conflict):
    slug, title = "stage-move-refused", "Stage move refused"


class InvalidInput(AppError):
    """A payload that is well-formed but breaks a rule; names the field at fault."""

    status, slug, title = 422, "invalid-input", "Invalid input"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, errors=[FieldError(field=field, message=message)])


class PayloadTooLarge(AppError):
    status, slug, title = 413, "payload-too-large", "Payload too large"


def problem_response(
    request: Request,
    *,
    status: int,
    slug: str,
    title: str,
    detail: str,
    errors: Sequence[FieldError] | None = None,
    allowed: Sequence[str] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        type=TYPE_PREFIX + slug,
        title=title,
        status=status,
        detail=detail,
        instance=request.url.path,
        errors=list(errors) if errors else None,
        allowed=list(allowed) if allowed is not None else None,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def _loc(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc) or "body"


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return problem_response(
        request,
        status=exc.status,
        slug=exc.slug,
        title=exc.title,
        detail=exc.message,
        errors=exc.errors,
        allowed=exc.allowed,
        headers=exc.headers,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        # Only the message and location: echoing the input back could copy personal data.
        FieldError(field=_loc(err.get("loc", ())), message=str(err.get("msg", "invalid")))
        for err in exc.errors()
    ]
    return _invalid(request, errors)


def _invalid(request: Request, errors: list[FieldError]) -> JSONResponse:
    """The 422 of a request that does not match its schema, naming the fields at fault."""
    fields = ", ".join(e.field for e in errors[:5])
    return problem_response(
        request,
        status=422,
        slug="validation-error",
        title="Request validation failed",
        detail=f"The request is not valid: {fields}",
        errors=errors,
    )


def _served_methods(request: Request) -> str:
    """Every method the requested path serves, for ``Allow``.

    The router answers 405 from the first route that matches the path, which names that
    route's methods only, not those of the other routes at the same path (``GET`` and
    ``PATCH`` are separate routes). The app's own document lists them all; its paths are
    compiled once per app, on the first 405.
    """
    app = request.app
    table: list[tuple[re.Pattern[str], str]] | None = getattr(app.state, "served_methods", None)
    if table is None:
        table = [
            (compile_path(path)[0], ", ".join(sorted(m.upper() for m in methods)))
            for path, methods in app.openapi()["paths"].items()
        ]
        app.state.served_methods = table
    path = request.url.path
    return next((methods for regex, methods in table if regex.match(path)), "")


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and exc.__cause__ is not None:
        # FastAPI answers 400 for a JSON body it could not read other than a syntax error (bytes
        # that are not UTF-8, nesting deeper than the parser goes): for the caller that is the
        # same mistake as malformed JSON, so it gets the same 422 naming the body (R-IN).
        log.info("unreadable body on %s %s", request.method, redact_path(request.url.path))
        unreadable = FieldError(field="body", message="The body is not readable UTF-8 JSON.")
        return _invalid(request, [unreadable])
    headers = getattr(exc, "headers", None)
    if exc.status_code == 405:
        headers = {**(headers or {}), "Allow": _served_methods(request)}
    titles = {
        400: "Bad request",
        404: "Not found",
        405: "Method not allowed",
        413: "Payload too large",
    }
    slug = {
        400: "bad-request",
        404: "not-found",
        405: "method-not-allowed",
        413: "payload-too-large",
    }.get(exc.status_code, "http-error")
    return problem_response(
        request,
        status=exc.status_code,
        slug=slug,
        title=titles.get(exc.status_code, "HTTP error"),
        detail=str(exc.detail),
        headers=headers,
    )


async def _integrity_error(request: Request, exc: Exception) -> JSONResponse:
    # Services check uniqueness and references first; this catches the race between two
    # requests, so a lost race is a 409 and never a 500.
    log.info("integrity error on %s %s", request.method, redact_path(request.url.path))
    return problem_response(
        request,
        status=409,
        slug="conflict",
        title="Conflict",
        detail="The change conflicts with an existing record (duplicate or still referenced).",
    )


async def _data_error(request: Request, exc: Exception) -> JSONResponse:
    # Inputs are bounded before they reach the database; this is the net under that rule, so a
    # value the database cannot hold is still the caller's 422 and never a 500 (R-IN).
    log.warning("database refused a value on %s %s", request.method, redact_path(request.url.path))
    return problem_response(
        request,
        status=422,
        slug="invalid-input",
        title="Invalid input",
        detail="A value is out of the range the service can store.",
    )


#: PostgreSQL's deadlock, serialization failure and lock timeout: the transaction was rolled
#: back whole because of other work running at the same moment, so the same request may simply
#: be sent again.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001", "55P03"})


def is_contention(exc: DBAPIError) -> bool:
    if getattr(exc.orig, "pgcode", None) in RETRYABLE_SQLSTATES:
        return True
    return "database is locked" in str(exc.orig)  # SQLite's busy timeout ran out


#: SQLSTATEs of a server that is going away or not taking work: admin or crash shutdown, starting
#: up, too many connections. Class 08 (connection exceptions) is matched by its prefix.
UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300"})


def _sqlstate(exc: BaseException) -> str | None:
    code = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    return code if isinstance(code, str) else None


def is_unavailable(exc: BaseException) -> bool:
    """R-AV: the database is unreachable, restarting or dropped the connection, so the request
    never completed and the same request may be sent again once it is back.

    Connect failures reach us unwrapped (asyncpg raises ``OSError``/``TimeoutError`` while
    SQLAlchemy opens a pool connection); a connection lost mid-statement arrives as a
    ``DBAPIError`` that SQLAlchemy marks ``connection_invalidated``, or whose driver error carries
    a connection SQLSTATE; a pool with no free connection in time is ``PoolTimeout``.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, (OSError, TimeoutError, PoolTimeout)):
            return True
        code = _sqlstate(current)
        if code is not None and (code.startswith("08") or code in UNAVAILABLE_SQLSTATES):
            return True
        if isinstance(current, _DRIVER_DISCONNECTS):
            return True
        # The driver's own exception hangs off SQLAlchemy's wrapper (``orig``) or is the cause.
        orig = current.orig if isinstance(current, DBAPIError) else None
        current = orig if isinstance(orig, BaseException) else current.__cause__
    return False


#: asyncpg's error for a connection that is gone (it carries no SQLSTATE of its own).
_DRIVER_DISCONNECTS = (ConnectionDoesNotExistError,)

#: How soon to try again after an outage answer: a restart takes seconds, not milliseconds.
UNAVAILABLE_RETRY_AFTER = "2"


def unavailable_response(request: Request, exc: BaseException) -> JSONResponse:
    """503 for a lost database: logged by type only (a driver's message may quote a value)."""
    log.warning(
        "database unavailable on %s %s (%s); answered 503",
        request.method,
        redact_path(request.url.path),
        type(exc).__name__,
    )
    return problem_response(
        request,
        status=503,
        slug="unavailable",
        title="Service unavailable, try again",
        detail="The database could not be reached, so the request was not completed; send it "
        "again in a moment. A change whose connection dropped while committing may have been "
        "made: look a created record up (by its external_id) before creating it again.",
        headers={"Retry-After": UNAVAILABLE_RETRY_AFTER},
    )


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    """A request that lost a race inside the database (with a worker firing checks, say) is
    rolled back whole; the caller is told to retry, never given a 500 for it. So is one whose
    database went away (R-AV)."""
    if is_unavailable(exc):
        return unavailable_response(request, exc)
    if not (isinstance(exc, DBAPIError) and is_contention(exc)):
        return await _unexpected(request, exc)
    log.warning(
        "database contention on %s %s; answered 503", request.method, redact_path(request.url.path)
    )
    return problem_response(
        request,
        status=503,
        slug="busy",
        title="Busy, try again",
        detail="The change met a concurrent one and was not made; send the same request again.",
        headers={"Retry-After": "1"},
    )


def describe(exc: BaseException) -> str:
    """An exception for a log line: its types and stack, never its message (R-PV: a driver's or
    a validator's message can quote the values it refused, and those are personal data)."""
    chain: list[str] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 5:
        chain.append(type(current).__qualname__)
        current = current.__cause__ or current.__context__
    stack = "".join(traceback.format_tb(exc.__traceback__))
    return " <- ".join(chain) + "\n" + stack.rstrip()


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error(
        "unexpected error on %s %s: %s",
        request.method,
        redact_path(request.url.path),
        describe(exc),
    )
    return problem_response(
        request,
        status=500,
        slug="internal-error",
        title="Internal error",
        detail="Something went wrong on our side; nothing was changed.",
    )


async def unhandled(request: Request, exc: BaseException) -> JSONResponse:
    """Whatever no handler took: a lost database is 503 (R-AV), anything else 500."""
    if is_unavailable(exc):
        return unavailable_response(request, exc)
    assert isinstance(exc, Exception)
    return await _unexpected(request, exc)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(PoolTimeout, _database_error)
    # Everything else (a refused connect is a bare OSError) is answered by the LastResort
    # middleware, not by an ``Exception`` handler: Starlette runs that one in its outermost
    # middleware, which re-raises after answering, and uvicorn then closes the client's
    # keep-alive connection with its queued requests unanswered.


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the error statuses an operation can answer."""
    descriptions = {
        400: "Bad request",
        401: "Missing, unknown or revoked API key",
        403: "The key's role may not do this",
        404: "No such record (or not visible to this key)",
        409: "Conflicts with the record's state or another record",
        413: "Body too large",
        422: "The request is not valid; `errors` names each field",
        503: "The database is busy or unavailable; send the same request again later",
    }
    return {
        code: {
            "description": descriptions[code],
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for code in codes
    }
