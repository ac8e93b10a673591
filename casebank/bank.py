"""CaseBank: cases stored in Chroma, retrieved by strategy, written back under a policy.

Layout. Two collections: `<name>` holds retrievable cases (verified successes), `<name>_quarantine`
holds failed or unverified trajectories kept for analysis. Each record's document is the task text
(what gets embedded), its metadata holds scalar fields for filtering plus the full case as JSON, so
the trajectory lives with the case and there is no second store to drift. Usage counters live only in
their own scalar fields (never inside the JSON) so an update touches one place.
"""

from __future__ import annotations

import fcntl
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import chromadb
from pydantic import BaseModel

from casebank.config import Settings, Strategy
from casebank.embedding import CasebankEmbeddingFunction, Embedder
from casebank.models import Case, Usage
from casebank.retrieval import RetrievalFilters, RetrievedCase, Retriever

CASE_JSON = "case_json"
TAG_PREFIX = "tag:"
EMBED_BATCH = 32


class WriteBackResult(BaseModel):
    action: Literal["added", "merged", "quarantined", "unchanged"]
    case_id: str
    # For a merge: the id that was dropped (the longer trajectory) and its similarity to the kept one.
    dropped_id: str | None = None
    similarity: float | None = None


class BankStats(BaseModel):
    cases: int
    quarantined: int
    by_family: dict[str, int]
    by_source: dict[str, int]
    median_tokens: int
    max_tokens: int
    retrieved_total: int


def _metadata(case: Case) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "cid": case.id,
        "family": case.family,
        "source": case.source,
        "success": case.outcome.success,
        "verified_by": case.outcome.verified_by,
        "model": case.model or "",
        "task_id": case.task_id or "",
        "created_at": case.created_at.isoformat(),
        "steps": case.stats.steps,
        "tool_calls": case.stats.tool_calls,
        "approx_tokens": case.stats.approx_tokens,
        "retrieved": case.usage.retrieved,
        "retrieved_in_success": case.usage.retrieved_in_success,
        CASE_JSON: case.model_dump_json(exclude={"usage"}),
    }
    meta.update({f"{TAG_PREFIX}{t}": True for t in case.tags})
    return meta


def case_from_record(meta: dict[str, Any]) -> Case:
    case = Case.model_validate_json(meta[CASE_JSON])
    case.usage = Usage(retrieved=int(meta.get("retrieved", 0)), retrieved_in_success=int(meta.get("retrieved_in_success", 0)))
    return case


def make_client(settings: Settings) -> Any:
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        return chromadb.HttpClient(host=url.hostname or "localhost", port=url.port or 8000, ssl=url.scheme == "https")
    settings.chroma_path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_path))


def _shorter(a: Case, b: Case) -> bool:
    """Is `a` the better trajectory to keep? Fewer steps, then fewer tokens, then the older one."""
    return (a.stats.steps, a.stats.approx_tokens, a.created_at) < (b.stats.steps, b.stats.approx_tokens, b.created_at)


class CaseBank:
    def __init__(self, settings: Settings | None = None):
        self.settings = settings or Settings()
        self.client = make_client(self.settings)
        self._ef = CasebankEmbeddingFunction(self.settings.embedder_path)
        self._thread_lock = threading.RLock()
        self._open_collections()
        self.retriever = Retriever(self)

    def _open_collections(self) -> None:
        def open_(name: str) -> Any:
            return self.client.get_or_create_collection(
                name, embedding_function=self._ef, configuration={"hnsw": {"space": "cosine"}}
            )

        self.cases = open_(self.settings.collection)
        self.quarantine = open_(self.settings.collection + "_quarantine")

    @property
    def embedder(self) -> Embedder:
        return self._ef.embedder

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Serialise read-modify-write: a thread lock, plus a file lock when the bank is a local folder
        (so a CLI and a server on the same data dir do not interleave their updates)."""
        with self._thread_lock:
            if self.settings.chroma_url:
                yield
                return
            lock_path = Path(self.settings.data_dir) / "bank.lock"
            with lock_path.open("a") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(fh, fcntl.LOCK_UN)

    # ---- storage -------------------------------------------------------------------------------
    def _put(self, collection: Any, cases: Sequence[Case], on_progress: Callable[[int], None] | None = None) -> None:
        if not cases:
            return
        # Embed first, in batches (the slow part, with progress), then write in one call: a batch lands
        # whole or not at all.
        vectors = []
        for start in range(0, len(cases), EMBED_BATCH):
            batch = cases[start : start + EMBED_BATCH]
            vectors.extend(self.embedder.embed([c.task for c in batch]))
            if on_progress:
                on_progress(len(batch))
        collection.upsert(
            ids=[c.id for c in cases],
            documents=[c.task for c in cases],
            metadatas=[_metadata(c) for c in cases],
            embeddings=vectors,
        )

    def upsert(self, cases: Sequence[Case], on_progress: Callable[[int], None] | None = None) -> int:
        """Idempotent bulk write of already-validated cases: verified successes to the bank, the rest to
        quarantine. Returns how many entered the retrievable bank."""
        good = [c for c in cases if c.outcome.verified_success]
        bad = [c for c in cases if not c.outcome.verified_success]
        with self.locked():
            self._put(self.cases, good, on_progress)
            self._put(self.quarantine, bad, on_progress)
        return len(good)

    def get(self, case_id: str, *, quarantined: bool = False) -> Case | None:
        collection = self.quarantine if quarantined else self.cases
        got = collection.get(ids=[case_id], include=["metadatas"])
        return case_from_record(got["metadatas"][0]) if got["ids"] else None

    def all(self, *, quarantined: bool = False, where: dict[str, Any] | None = None) -> list[Case]:
        collection = self.quarantine if quarantined else self.cases
        got = collection.get(where=where, include=["metadatas"])
        return sorted((case_from_record(m) for m in got["metadatas"]), key=lambda c: c.id)

    def delete(self, case_id: str) -> bool:
        with self.locked():
            found = False
            for collection in (self.cases, self.quarantine):
                if collection.get(ids=[case_id], include=[])["ids"]:
                    collection.delete(ids=[case_id])
                    found = True
            return found

    def count(self, *, quarantined: bool = False) -> int:
        return (self.quarantine if quarantined else self.cases).count()

    def reset(self) -> None:
        with self.locked():
            for collection in (self.cases, self.quarantine):
                self.client.delete_collection(collection.name)
            self._open_collections()

    def stats(self) -> BankStats:
        cases = self.all()
        tokens = sorted(c.stats.approx_tokens for c in cases) or [0]
        return BankStats(
            cases=len(cases),
            quarantined=self.count(quarantined=True),
            by_family=dict(sorted(Counter(c.family for c in cases).items())),
            by_source=dict(sorted(Counter(c.source for c in cases).items())),
            median_tokens=tokens[len(tokens) // 2],
            max_tokens=tokens[-1],
            retrieved_total=sum(c.usage.retrieved for c in cases),
        )

    # ---- write-back policy -----------------------------------------------------------------------
    def write_back(self, case: Case) -> WriteBackResult:
        """Only verified successes become retrievable; a near-duplicate task keeps the shorter trajectory."""
        with self.locked():
            if not case.outcome.verified_success:
                self._put(self.quarantine, [case])
                return WriteBackResult(action="quarantined", case_id=case.id)
            if self.get(case.id) is not None:
                return WriteBackResult(action="unchanged", case_id=case.id)
            nearest = self.retriever.dense(case.task, 1, RetrievalFilters())
            if nearest and nearest[0].score >= self.settings.dedup_threshold:
                return self._merge(case, nearest[0].case, nearest[0].score)
            self._put(self.cases, [case])
            return WriteBackResult(action="added", case_id=case.id)

    def _merge(self, new: Case, old: Case, similarity: float) -> WriteBackResult:
        keep, drop = (new, old) if _shorter(new, old) else (old, new)
        keep = keep.model_copy(
            update={
                "merged_from": sorted({*keep.merged_from, drop.id, *drop.merged_from}),
                "usage": Usage(
                    retrieved=old.usage.retrieved + new.usage.retrieved,
                    retrieved_in_success=old.usage.retrieved_in_success + new.usage.retrieved_in_success,
                ),
            }
        )
        # Write the keeper before deleting: a crash in between leaves two valid cases, never zero.
        self._put(self.cases, [keep])
        if drop.id == old.id:
            self.cases.delete(ids=[old.id])
        return WriteBackResult(action="merged", case_id=keep.id, dropped_id=drop.id, similarity=similarity)

    def record_usage(self, case_ids: Sequence[str], *, succeeded: bool) -> None:
        """Count one episode that retrieved these cases, and whether it then succeeded."""
        if not case_ids:
            return
        with self.locked():
            got = self.cases.get(ids=list(dict.fromkeys(case_ids)), include=["metadatas"])
            updates = [
                {
                    "retrieved": int(m.get("retrieved", 0)) + 1,
                    "retrieved_in_success": int(m.get("retrieved_in_success", 0)) + int(succeeded),
                }
                for m in got["metadatas"]
            ]
            if got["ids"]:
                self.cases.update(ids=got["ids"], metadatas=updates)

    # ---- retrieval -------------------------------------------------------------------------------
    def retrieve(
        self,
        query: str,
        k: int | None = None,
        strategy: Strategy | None = None,
        filters: RetrievalFilters | None = None,
        seed: int = 0,
    ) -> list[RetrievedCase]:
        return self.retriever.retrieve(
            query,
            self.settings.default_k if k is None else k,
            strategy or self.settings.default_strategy,
            filters or RetrievalFilters(),
            seed=seed,
        )
