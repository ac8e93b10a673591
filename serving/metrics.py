"""Prometheus metrics on a per-app registry (several apps in one process do not collide)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from casebank.bank import CaseBank, WriteBackResult
from casebank.config import Strategy
from casebank.models import Case
from casebank.retrieval import RetrievalFilters, RetrievedCase
from serving.middleware import route_of

log = logging.getLogger("casebank.serving")

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)


class Metrics:
    def __init__(self, bank: CaseBank | None = None):
        self.bank = bank
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("casebank_http_requests", "HTTP requests by route and status.", ["method", "route", "status"], registry=r)
        self.latency = Histogram("casebank_http_request_duration_seconds", "HTTP request latency (to the last byte).",
                                 ["method", "route"], buckets=LATENCY_BUCKETS, registry=r)
        self.retrieval = Histogram("casebank_retrieval_duration_seconds", "Case retrieval latency.", ["strategy"],
                                   buckets=LATENCY_BUCKETS, registry=r)
        self.episodes = Counter("casebank_episodes", "Chat turns by model and outcome (succeeded, unverified, failed, error).",
                                ["model", "outcome"], registry=r)
        self.feedback = Counter("casebank_feedback", "Feedback received.", ["verdict"], registry=r)
        self.active_turns = Gauge("casebank_active_turns", "Chat turns running now.", registry=r)
        self.bank_size = Gauge("casebank_bank_cases", "Cases in the bank.", ["collection"], registry=r)

    def render(self) -> bytes:
        """The exposition text; the bank-size gauge is read at scrape time."""
        if self.bank is not None:
            try:
                self.bank_size.labels("cases").set(self.bank.count())
                self.bank_size.labels("quarantine").set(self.bank.count(quarantined=True))
            except Exception:  # a scrape must not fail because the bank is briefly unreachable
                log.warning("bank size unavailable for /metrics", exc_info=True)
        return generate_latest(self.registry)


class TimedBank:
    """The bank as the agent sees it, with retrieval latency observed."""

    def __init__(self, bank: CaseBank, metrics: Metrics):
        self._bank, self._metrics = bank, metrics

    def retrieve(self, query: str, k: int | None = None, strategy: Strategy | None = None,
                 filters: RetrievalFilters | None = None, seed: int = 0) -> list[RetrievedCase]:
        started = time.perf_counter()
        try:
            return self._bank.retrieve(query, k, strategy, filters, seed=seed)
        finally:
            used = strategy or self._bank.settings.default_strategy
            self._metrics.retrieval.labels(used).observe(time.perf_counter() - started)

    def write_back(self, case: Case) -> WriteBackResult:
        return self._bank.write_back(case)

    def record_usage(self, case_ids: Sequence[str], *, succeeded: bool) -> None:
        self._bank.record_usage(case_ids, succeeded=succeeded)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._bank, name)


class MetricsMiddleware:
    """Counts and times every HTTP request by route template (not raw path: bounded label values)."""

    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def tracking_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        finally:
            route, method = route_of(scope), scope.get("method", "")
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)
