"""Several OpenAI-compatible LLM endpoints (vLLM servers) behind one `--llm-url`: spread the work, skip the dead.

    pool = EndpointPool(parse_urls("http://gpu1:8001/v1,http://gpu2:8001/v1"))
    with pool.lease() as url:          # the live endpoint with the fewest leases out, ties in turn
        try:
            ... one chat turn or ablation episode against `url` ...
        except openai.APIConnectionError:
            pool.mark_down(url)        # skipped for `retry_after_s`, then tried again
            raise                      # or lease again: the next lease avoids it

Least-busy per lease, not per request: a conversation's model calls stay on one server, whose prefix cache
then holds its growing prompt. An endpoint marked down is out of rotation for `retry_after_s`; after that
the next lease may pick it and a real request tells whether it is back (`check()` probes them all with
GET /models at once, for a start-up check). When every endpoint is down a lease still returns the one
down longest, so a caller gets the backend's own error rather than a pool error. Thread-safe; one pool
per process (its counts are this process's leases only).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_PORT = 8001  # where `casebank llm serve` listens by default (the API takes 8000)
DEFAULT_LLM_URL = f"http://127.0.0.1:{DEFAULT_PORT}/v1"


def parse_urls(text: str | Sequence[str]) -> list[str]:
    """`"http://a:8001/v1, http://b:8001/v1"` (or a list) -> the URLs, checked and without a trailing '/'.
    Raises ValueError naming the bad entry."""
    items = text.split(",") if isinstance(text, str) else list(text)
    urls: list[str] = []
    for i, item in enumerate(items):
        url = item.strip().rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"LLM URL #{i + 1} {item.strip()!r} is not an http(s)://host[:port]/v1 URL")
        if url not in urls:
            urls.append(url)
    if not urls:
        raise ValueError("no LLM URL given")
    return urls


@dataclass
class EndpointState:
    url: str
    in_flight: int = 0
    leases: int = 0  # ever handed out
    failures: int = 0  # times marked down
    down_until: float = 0.0


class EndpointPool:
    def __init__(self, urls: str | Sequence[str], *, retry_after_s: float = 10.0, clock: Callable[[], float] = time.monotonic):
        self.retry_after_s = retry_after_s
        self._clock = clock
        self._states = [EndpointState(url) for url in parse_urls(urls)]
        self._turn = itertools.count()  # rotates ties, so equal loads take turns
        self._lock = threading.Lock()

    @property
    def urls(self) -> list[str]:
        return [s.url for s in self._states]

    def __len__(self) -> int:
        return len(self._states)

    def _state(self, url: str) -> EndpointState:
        for state in self._states:
            if state.url == url.rstrip("/"):
                return state
        raise KeyError(f"{url} is not an endpoint of this pool ({', '.join(self.urls)})")

    def is_down(self, url: str) -> bool:
        with self._lock:
            return self._state(url).down_until > self._clock()

    def live(self) -> list[str]:
        now = self._clock()
        with self._lock:
            return [s.url for s in self._states if s.down_until <= now]

    def pick(self, exclude: Iterable[str] = ()) -> str:
        """The URL the next lease would take (without taking it)."""
        with self._lock:
            return self._choose(set(exclude)).url

    def _choose(self, exclude: set[str]) -> EndpointState:
        now = self._clock()
        candidates = [s for s in self._states if s.url not in exclude] or self._states
        live = [s for s in candidates if s.down_until <= now]
        if not live:  # all down: the one down longest is the likeliest to be back
            return min(candidates, key=lambda s: s.down_until)
        start = next(self._turn) % len(self._states)
        order = {s.url: (i - start) % len(self._states) for i, s in enumerate(self._states)}
        return min(live, key=lambda s: (s.in_flight, order[s.url]))

    @contextmanager
    def lease(self, exclude: Iterable[str] = ()) -> Iterator[str]:
        """Hold the least-busy live endpoint (skipping `exclude`, e.g. the ones that just failed) while
        the block runs."""
        with self._lock:
            state = self._choose(set(exclude))
            state.in_flight += 1
            state.leases += 1
        try:
            yield state.url
        finally:
            with self._lock:
                state.in_flight -= 1

    def mark_down(self, url: str) -> None:
        """`url` failed to connect: out of rotation for `retry_after_s`."""
        with self._lock:
            state = self._state(url)
            state.down_until = self._clock() + self.retry_after_s
            state.failures += 1

    def mark_up(self, url: str) -> None:
        with self._lock:
            self._state(url).down_until = 0.0

    def check(self, timeout_s: float = 2.0, api_key: str = "EMPTY") -> dict[str, str | None]:
        """Probe every endpoint with GET /models at once; mark each up or down. Returns url -> None if it
        answered, else why not."""
        import httpx

        def probe(url: str) -> str | None:
            try:
                r = httpx.get(f"{url}/models", headers={"Authorization": f"Bearer {api_key}"}, timeout=timeout_s)
            except httpx.HTTPError as e:
                return f"{type(e).__name__}: {e}".rstrip(": ")
            return None if r.status_code == 200 else f"HTTP {r.status_code}"

        with ThreadPoolExecutor(len(self._states)) as pool:
            results = dict(zip(self.urls, pool.map(probe, self.urls), strict=True))
        for url, problem in results.items():
            (self.mark_up if problem is None else self.mark_down)(url)
        return results

    def snapshot(self) -> list[EndpointState]:
        """A copy of each endpoint's counters, for metrics and tests."""
        with self._lock:
            return [EndpointState(**vars(s)) for s in self._states]
