"""Models, health, readiness, metrics, and the (keyed) schema and docs."""

from __future__ import annotations

import asyncio
import time

import httpx
from fastapi import APIRouter, Depends, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from serving.auth import require_key
from serving.config import ServerSettings, absent_profile_reason
from serving.errors import OPTIONS_ROUTE, APIError, allowed_methods, error_responses
from serving.schemas import Check, Health, ModelCard, ModelList, ModelProfileOut, Readiness

router = APIRouter()
keyed = APIRouter(dependencies=[Depends(require_key)])
STARTED = int(time.time())


def model_card(settings: ServerSettings, name: str) -> ModelCard:
    p = settings.profiles[name]
    served = ModelProfileOut(served_model=settings.served_model(p), strategy=p.strategy, k=p.k, description=p.description)
    return ModelCard(id=name, created=STARTED, casebank=served)


@keyed.get("/v1/models", response_model=ModelList, responses=error_responses(401), tags=["models"], summary="The models (profiles) served.")
async def list_models(request: Request) -> ModelList:
    settings: ServerSettings = request.app.state.settings
    return ModelList(data=[model_card(settings, name) for name in settings.profiles])


@keyed.get("/v1/models/{model}", response_model=ModelCard, responses=error_responses(401, 404), tags=["models"], summary="One model.")
async def get_model(request: Request, model: str) -> ModelCard:
    settings: ServerSettings = request.app.state.settings
    if model not in settings.profiles:
        why = absent_profile_reason(model)
        raise APIError(404, f"The model '{model}' does not exist{f' here ({why})' if why else ''}.", param="model",
                       code="model_not_found", type="invalid_request_error")
    return model_card(settings, model)


@router.options("/{path:path}", include_in_schema=False, name=OPTIONS_ROUTE)
async def options(request: Request) -> Response:
    """What a path supports, for every path (no key needed: it says no more than the schema does)."""
    methods = allowed_methods(request.app, request.scope)
    if not methods:
        raise APIError(404, "Not Found", code="not_found")
    return Response(status_code=204, headers={"Allow": ", ".join(methods)})


@router.get("/healthz", response_model=Health, tags=["ops"], summary="The process is up (no key needed).")
async def healthz() -> Health:
    return Health()


async def llm_check(settings: ServerSettings, base_url: str | None = None) -> Check:
    """Probe one LLM endpoint (`base_url`), or all of them: ready while any one serves."""
    if base_url is None and len(settings.llm_urls) > 1:
        checks = await asyncio.gather(*(llm_check(settings, u) for u in settings.llm_urls))
        details = "; ".join(c.detail if not c.ok else f"{u}: {c.detail}" for u, c in zip(settings.llm_urls, checks, strict=True))
        return Check(ok=any(c.ok for c in checks), detail=details)
    url = (base_url or settings.llm_url).rstrip("/") + "/models"
    try:
        async with httpx.AsyncClient(timeout=settings.ready_timeout_s) as client:
            response = await client.get(url, headers={"Authorization": f"Bearer {settings.llm_api_key}"})
    except httpx.HTTPError as e:
        return Check(ok=False, detail=f"{url}: {type(e).__name__}: {e}".rstrip(": "))
    if response.status_code != 200:
        return Check(ok=False, detail=f"{url}: HTTP {response.status_code}")
    try:
        served = {m.get("id") for m in response.json().get("data", [])}
    except (ValueError, AttributeError):
        return Check(ok=False, detail=f"{url}: not an OpenAI model list")
    wanted = {settings.served_model(p) for p in settings.profiles.values()}
    missing = sorted(wanted - served)
    return Check(ok=True, detail=f"serves {', '.join(sorted(m for m in served if m))}" + (f"; missing {', '.join(missing)}" if missing else ""))


def bank_check(request: Request) -> Check:
    try:
        bank = request.app.state.bank
        return Check(ok=True, detail=f"{bank.count()} cases, {bank.count(quarantined=True)} quarantined")
    except Exception as e:
        return Check(ok=False, detail=f"{type(e).__name__}: {e}")


@keyed.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness, "description": "not ready"}, **error_responses(401)},
           tags=["ops"], summary="The LLM backend and the bank are reachable.")
async def readyz(request: Request) -> JSONResponse:
    settings: ServerSettings = request.app.state.settings
    bank_task = asyncio.wait_for(asyncio.to_thread(bank_check, request), settings.ready_timeout_s * 5)
    llm, bank = await asyncio.gather(llm_check(settings), bank_task, return_exceptions=True)
    checks = {
        "llm": llm if isinstance(llm, Check) else Check(ok=False, detail=repr(llm)),
        "bank": bank if isinstance(bank, Check) else Check(ok=False, detail=f"no answer: {bank!r}"),
    }
    ready = all(c.ok for c in checks.values())
    body = Readiness(status="ready" if ready else "not ready", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


@keyed.get("/metrics", response_class=Response, tags=["ops"], summary="Prometheus metrics.",
           responses={200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}}}, **error_responses(401)})
def metrics(request: Request) -> Response:
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE_LATEST)


@keyed.get("/openapi.json", include_in_schema=False)
async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@keyed.get("/docs", include_in_schema=False)
async def docs(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(openapi_url="/openapi.json", title="casebank API")
