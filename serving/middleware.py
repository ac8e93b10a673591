"""Plain ASGI middleware: the request-body cap (413 before the body is read when Content-Length is too
big, and while reading when a chunked body grows past the cap), and the last-resort error answer."""

from __future__ import annotations

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.errors import APIError, internal_error

log = logging.getLogger("casebank.serving")


def too_large(limit: int) -> APIError:
    return APIError(413, f"Request body too large: the limit is {limit} bytes.", code="request_too_large")


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await too_large(self.max_bytes).response()(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # An HTTPException passes through FastAPI's body parsing to the app's handler.
                    raise HTTPException(413, too_large(self.max_bytes).message)
            return message

        tracked = TrackedSend(send)
        try:
            await self.app(scope, limited_receive, tracked)
        except HTTPException as e:  # raised outside FastAPI's handlers (e.g. while a middleware read the body)
            if e.status_code != 413 or tracked.started:
                raise
            await too_large(self.max_bytes).response()(scope, receive, send)


class TrackedSend:
    """`send`, remembering whether the response has started (after that, no error answer can be sent)."""

    def __init__(self, send: Send):
        self.send, self.started = send, False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
        await self.send(message)


def route_of(scope: dict[str, Any]) -> str:
    route = scope.get("route")
    return getattr(route, "path", None) or "<unmatched>"


class CatchAll:
    """Any exception that escapes the app becomes a JSON error answer, and the connection lives on.

    Starlette's own handler for `Exception` (ServerErrorMiddleware) sends its 500 and then re-raises, so
    uvicorn logs "Exception in ASGI application" and closes the keep-alive connection: the client's next
    request on it fails with a connection reset. Here the exception ends with the answer. Only when the
    response had already started is there nothing left to say; the server then closes the connection."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tracked = TrackedSend(send)
        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            if isinstance(exc, HTTPException):  # raised by a middleware, outside FastAPI's handlers
                error = APIError(exc.status_code, str(exc.detail), headers=exc.headers)
            else:
                log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
                error = internal_error(exc)
            if not tracked.started:
                await error.response()(scope, receive, send)
