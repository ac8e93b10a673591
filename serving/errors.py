"""OpenAI-style errors: every non-2xx answer is `{"error": {"message", "type", "param", "code"}}`."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import Scope

from casebank.errors import CasebankError

log = logging.getLogger("casebank.serving")
BODY_PARSE_ERROR = "There was an error parsing the body"

TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "conflict_error",
    413: "request_too_large",
    422: "invalid_request_error",
    500: "server_error",
    502: "upstream_error",
    503: "service_unavailable",
    504: "timeout_error",
}
OPTIONS_ROUTE = "options"  # the name of routes_ops' OPTIONS route, which answers for every path


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


class APIError(CasebankError):
    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None,
                 type: str | None = None, headers: dict[str, str] | None = None):  # noqa: A002 - OpenAI's name
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.headers = status, message, param, code, headers
        self.type = type or TYPES.get(status, "invalid_request_error")

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def response(self) -> JSONResponse:
        return ErrorJSONResponse(self.body(), status_code=self.status, headers=self.headers)


class ErrorJSONResponse(JSONResponse):
    """An error body that always renders: a message that quotes bad input (a lone surrogate) gets '?' for
    what UTF-8 cannot hold, instead of failing to encode and turning a 4xx into a 500."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8", "replace")


def internal_error(exc: BaseException) -> APIError:
    if isinstance(exc, httpx.TransportError):  # outside a chat turn only the bank's Chroma server is reached over HTTP
        return APIError(503, f"The case bank's Chroma server is unreachable ({type(exc).__name__}); the request did not "
                        "complete, please retry later.", code="bank_unavailable", headers={"Retry-After": "5"})
    return APIError(500, f"internal error: {type(exc).__name__}", code="internal_error")


def allowed_methods(app: Any, scope: Scope) -> list[str]:
    """The methods some route serves at this path (OPTIONS included), for `Allow` of a 405 or an OPTIONS answer;
    [] when no route has the path. Starlette's 405 names only the first route that matched the path.

    Each method is asked of the router's routes as a request would: a route answers FULL when it serves that
    method at that path. (FastAPI 0.165 keeps an included router as one route object with no `methods` of its
    own, where earlier versions copied each route in; asking works on both.)"""
    methods = {m for m in _METHODS if any(route.matches({**scope, "type": "http", "method": m})[0] == Match.FULL
                                          for route in app.router.routes)}
    return sorted(methods | {"OPTIONS"}) if methods else []


_METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")  # OPTIONS is the catch-all route's: left out of the asking


def body_parse_error(exc: StarletteHTTPException) -> APIError:
    """FastAPI answers 400 to any body json.loads cannot take, and keeps the reason as the cause: say it."""
    cause = exc.__cause__
    if isinstance(cause, RecursionError):
        return APIError(422, "body: the JSON is nested too deeply to parse.", param="body", code="json_too_deep")
    if isinstance(cause, UnicodeDecodeError):
        return APIError(422, f"body: not valid UTF-8 (byte {cause.start}): JSON bodies must be UTF-8.", param="body",
                        code="invalid_json")
    reason = f" ({type(cause).__name__}: {cause})" if cause is not None else ""
    return APIError(422, f"body: not valid JSON{reason}.", param="body", code="invalid_json")


# Pydantic puts the union member it tried into the location ("content", "str"); that is not a field.
UNION_TAG = re.compile(r"^(str|int|float|bool|bytes|none|[a-z-]+\[.*\])$")


def field_path(loc: Sequence[Any]) -> str:
    """("body", "messages", 0, "content") -> "messages[0].content"; ("query", "k") -> "k"."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    parts = [p for p in parts if not (isinstance(p, str) and UNION_TAG.match(p))]
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def validation_error(errors: Sequence[dict[str, Any]]) -> APIError:
    first = errors[0]
    if first.get("type") == "json_invalid":
        return APIError(422, f"body: invalid JSON ({first.get('ctx', {}).get('error', 'cannot parse')}).", param="body",
                        code="invalid_json")
    param = field_path(first.get("loc", ()))
    inner = (first.get("ctx") or {}).get("path")  # schemas.CheckedBody: the bad value below the field
    if first.get("type") == "invalid_text" and inner:
        param = inner if param == "body" else f"{param}{inner if inner.startswith('[') else '.' + inner}"
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return APIError(422, f"{param}: {first.get('msg', 'invalid')}{more}", param=param, code="invalid_value")


# Documented on every route, so the schema says what errors look like (schemathesis checks it).
def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorResponse, "description": TYPES.get(status, "error")} for status in statuses}


def install(app: FastAPI) -> None:
    @app.exception_handler(APIError)
    async def _api_error(_: Request, exc: APIError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_error(exc.errors()).response()

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else "error"
        if exc.status_code == 400 and detail == BODY_PARSE_ERROR:
            return body_parse_error(exc).response()
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request.app, request.scope))
            detail = f"Method {request.method} not allowed here; allowed: {headers['Allow']}."
        return APIError(exc.status_code, detail, headers=headers or None).response()

    # No handler for Exception here: Starlette sends that handler's response and then re-raises, and
    # uvicorn drops the keep-alive connection. middleware.CatchAll answers 500 and keeps it.
