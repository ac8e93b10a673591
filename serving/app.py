"""The chat API: `create_app(settings, agent_factory)` builds a FastAPI app over the agent and the bank.

    uvicorn "serving.app:create_app" --factory      # or: casebank serve

Routes: POST /v1/chat/completions, GET /v1/models, POST /v1/feedback, /v1/cases (GET, POST, DELETE),
GET /healthz, /readyz, /metrics; the schema is at /openapi.json and the docs at /docs. OPTIONS on any
route answers 204 with `Allow`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from casebank.bank import CaseBank
from casebank.config import Settings
from serving import errors, routes_cases, routes_chat, routes_ops
from serving.config import ServerSettings, replica_problems
from serving.metrics import Metrics, MetricsMiddleware
from serving.middleware import BodySizeLimit, CatchAll
from serving.routes_chat import CONVERSATION_HEADER
from serving.service import AgentFactory, ChatService

log = logging.getLogger("casebank.serving")


def create_app(
    settings: ServerSettings | None = None,
    agent_factory: AgentFactory | None = None,
    *,
    bank_settings: Settings | None = None,
    bank: CaseBank | None = None,
) -> FastAPI:
    """`agent_factory(config, bank, checkpointer) -> Agent` builds the agent for one configuration (a
    profile plus request limits); by default the real one (ChatOpenAI at settings.llm_url). `bank` may be
    passed in (tests share one); otherwise it is opened from `bank_settings` (default: casebank Settings)."""
    settings = settings or ServerSettings()
    bank_settings = bank_settings or (bank.settings if bank is not None else Settings())
    if problems := replica_problems(settings, bank_settings):
        raise ValueError("; ".join(problems))
    bank = bank if bank is not None else CaseBank(bank_settings)
    metrics = Metrics(bank)
    service = ChatService(settings, bank_settings, bank, agent_factory, metrics)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Load the embedder and build the agents before taking requests, not during the first chat.
        await asyncio.get_running_loop().run_in_executor(service.executor, service.warm_up)
        yield
        service.close()

    app = FastAPI(
        title="casebank",
        version="0.1.0",
        summary="An OpenAI-compatible chat API over an agent that learns from a bank of solved cases.",
        lifespan=lifespan,
        openapi_url=None,  # served by routes_ops with the key check
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings, app.state.service, app.state.metrics, app.state.bank = settings, service, metrics, bank
    errors.install(app)
    app.include_router(routes_chat.router)
    app.include_router(routes_cases.router)
    app.include_router(routes_ops.router)
    app.include_router(routes_ops.keyed)

    # Outermost last: metrics see everything (413s and 500s included), CatchAll answers whatever escapes the
    # app or the middleware inside it, CORS answers preflights before auth.
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["*"], allow_headers=["*"],
                           expose_headers=[CONVERSATION_HEADER])
    app.add_middleware(CatchAll)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app

