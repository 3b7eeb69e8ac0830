"""ASGI middleware that must run before any route: body size bound (R-IN), and the last net
under every error that keeps the client's connection open (R-AV)."""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import PROBLEM_JSON, TYPE_PREFIX, unhandled


class BodyTooLarge(StarletteHTTPException):
    """An HTTP error, so FastAPI's body reader re-raises it as is (not as a 400)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"The request body exceeds {max_bytes} bytes.")


class BodySizeLimit:
    """Refuse bodies over ``max_bytes`` with 413, whether announced or streamed.

    Checked on ``Content-Length`` first (cheap), then while reading, so a chunked upload cannot
    slip a larger body past the announced size.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = self.max_bytes + 1
                if declared > self.max_bytes:
                    await self._refuse(scope, send)
                    return
        seen = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not response_started:
                await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        body = json.dumps(
            {
                "type": TYPE_PREFIX + "payload-too-large",
                "title": "Payload too large",
                "status": 413,
                "detail": f"The request body exceeds {self.max_bytes} bytes.",
                "instance": scope.get("path"),
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class LastResort:
    """Answers what no exception handler took, and does not re-raise (R-AV).

    Starlette's own last net (``ServerErrorMiddleware``) answers 500 and then re-raises for the
    server to log, and uvicorn closes the connection on an exception, dropping requests a
    keep-alive client has already queued on it. Here a lost database (a refused connect is a bare
    ``OSError``) answers 503 with ``Retry-After``, anything else a 500, both logged without
    personal data, and the connection goes on serving. Added last, so it wraps every other
    middleware; once a response has started nothing can be answered, and the error goes on up.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                raise
            response = await unhandled(Request(scope), _leaf(exc))
            await response(scope, receive, send)


def _leaf(exc: Exception) -> Exception:
    """The first real error inside an exception group (a task group around the endpoint)."""
    while isinstance(exc, ExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc
