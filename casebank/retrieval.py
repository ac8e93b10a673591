"""Retrieval strategies for ablations: none, random, bm25, dense, hybrid (RRF), mmr.

Each strategy returns ranked `RetrievedCase`s with the strategy's own score (bm25 score, cosine
similarity, reciprocal-rank-fusion score, MMR objective; random scores 0).
"""

from __future__ import annotations

import bisect
import json
import math
import random
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

import bm25s
import numpy as np
from pydantic import BaseModel, Field

from casebank.chroma_records import TAG_PREFIX, case_from_record
from casebank.config import Settings, Strategy
from casebank.embedding import Embedder
from casebank.models import Case, Source



class CaseSource(Protocol):
    """What the retriever reads (CaseBank is one): the two Chroma collections, the embedder, the settings.
    Attributes, not values handed over once: a reset bank replaces its collections."""

    cases: Any
    quarantine: Any
    settings: Settings

    @property
    def embedder(self) -> Embedder: ...

    def version(self) -> int | None:
        """The bank's write counter (every writer's, O(1) to read); None when it cannot be read."""
        ...

    def changes_since(self, version: int, now: int) -> frozenset[str] | None:
        """The ids the writes after `version` up to `now` touched, or None when one of them is not known."""
        ...

RRF_K = 60  # the constant from Cormack et al.; damps the head of each list so both lists count


class RetrievalFilters(BaseModel):
    success_only: bool = True  # False also searches the quarantine
    families: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)  # every tag must be present
    sources: list[Source] = Field(default_factory=list)
    exclude_ids: list[str] = Field(default_factory=list)

    def where(self) -> dict[str, Any] | None:
        clauses: list[dict[str, Any]] = []
        if self.families:
            clauses.append({"family": {"$in": self.families}})
        if self.sources:
            clauses.append({"source": {"$in": list(self.sources)}})
        clauses += [{f"{TAG_PREFIX}{t}": True} for t in self.tags]
        if self.exclude_ids:
            clauses.append({"cid": {"$nin": self.exclude_ids}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}


class RetrievedCase(BaseModel):
    """A case and its rank. Built by the retriever with `model_construct`: validating it would run the case's
    validators again (an after-validator runs even on an instance), the text scan the read path skips."""

    case: Case
    score: float
    rank: int
    strategy: Strategy


def _tokenize(texts: list[str]) -> Any:
    return bm25s.tokenize(texts, stopwords="en", show_progress=False)


def _words(texts: list[str]) -> list[list[str]]:
    """`_tokenize`'s tokens as strings (the same rules: lower case, English stopwords out)."""
    return bm25s.tokenize(texts, stopwords="en", return_ids=False, show_progress=False)


APPLY_MAX = 5000  # touched ids a view applies (one Chroma get each way); past that it lists the collection again
GET_CHUNK = 5000  # ids per Chroma get: one get(ids=...) is one SQL statement, and SQLite refuses past 32,766 variables


def get_by_ids(collection: Any, ids: list[str], include: list[str]) -> dict[str, list[Any]]:
    """`collection.get(ids=ids, include=include)` for any number of ids, in chunks of GET_CHUNK (a bank of 100k
    cases rebuilding its BM25 index asked for all of them at once and failed: "too many SQL variables")."""
    out: dict[str, list[Any]] = {"ids": [], **{key: [] for key in include}}
    for start in range(0, len(ids), GET_CHUNK):
        got = collection.get(ids=ids[start : start + GET_CHUNK], include=include)
        for key in out:
            out[key].extend(got[key] if got[key] is not None else [])
    return out


class _BM25Index:
    """A bm25s index over `ids`, plus the documents added since it was built (`extra`: id -> tokens), which
    are scored with the index's own statistics (document count, document frequencies, mean length) by
    bm25s's Lucene formula, so their scores rank with the index's. `gone`: indexed ids no longer candidates."""

    def __init__(self, ids: tuple[str, ...], index: Any, avgdl: float):
        self.ids, self.index, self.avgdl = ids, index, avgdl
        self.indexed = frozenset(ids)
        self.extra: dict[str, list[str]] = {}
        self.gone: set[str] = set()
        indptr = np.asarray(index.scores["indptr"])
        # bm25s's score matrix has a column per token (its padding token "" may have none): df = entries per column
        self.df = {token: int(indptr[t + 1] - indptr[t]) for token, t in index.vocab_dict.items() if t + 1 < len(indptr)}

    @property
    def changed(self) -> int:
        """Documents added or gone since the index was built."""
        return len(self.extra) + len(self.gone)

    def score(self, query: list[str], doc: list[str]) -> float:
        n, k1, b = len(self.ids), self.index.k1, self.index.b
        norm = k1 * ((1 - b) + b * len(doc) / self.avgdl)
        total = 0.0
        for token in query:
            if tf := doc.count(token):
                df = self.df.get(token, 0)
                total += math.log(1 + (n - df + 0.5) / (df + 0.5)) * tf / (norm + tf)
        return total


@dataclass
class _View:
    """What one filter sees: its candidate ids (sorted, and as a set) as of the bank's write counter `version`,
    and the BM25 index over them once a BM25 query asked for it."""

    version: int | None
    ids: list[str]
    members: set[str]
    bm25: _BM25Index | None = None
    pending: set[str] = field(default_factory=set)  # candidates since the BM25 index was built, not yet tokenised

    def add(self, cid: str) -> None:
        if cid in self.members:
            return
        self.members.add(cid)
        bisect.insort(self.ids, cid)
        if self.bm25 is not None:
            if cid in self.bm25.indexed:
                self.bm25.gone.discard(cid)
            else:
                self.pending.add(cid)

    def remove(self, cid: str) -> None:
        if cid not in self.members:
            return
        self.members.discard(cid)
        del self.ids[bisect.bisect_left(self.ids, cid)]
        self.pending.discard(cid)
        if self.bm25 is not None:
            self.bm25.extra.pop(cid, None)
            if cid in self.bm25.indexed:
                self.bm25.gone.add(cid)


class Retriever:
    """Strategies over the bank. A query does not list the collection: each filter's candidate ids (what
    `random` samples, what BM25 indexes) are kept in a `_View`, checked against the bank's write counter
    (one small read) and brought up to date from the ids this process's writes touched (`changes_since`:
    O(changes) Chroma reads). Only a write this process did not make (another process or replica, a reset)
    lists the collection again. Ids are content hashes of the task text (the indexed document), so an id
    always means the same document."""

    VIEW_CACHE_SIZE = 8  # filters whose views are kept
    DELTA_MAX = 64  # documents written since an index was built that are scored beside it, not rebuilt

    def __init__(self, bank: CaseSource):
        self.bank = bank
        self._views: dict[str, _View] = {}
        self._sizes: dict[str, tuple[int | None, int]] = {}  # collection name -> (write counter, count)
        self._lock = threading.RLock()  # views and BM25 indexes change in place: one thread at a time
        self.listings = 0  # how many times a view was built by listing the collections (tests, the bench)

    def _collections(self, filters: RetrievalFilters) -> list[Any]:
        return [self.bank.cases] if filters.success_only else [self.bank.cases, self.bank.quarantine]

    def _list(self, filters: RetrievalFilters) -> list[str]:
        """All candidate ids passing the filters, sorted: O(bank size)."""
        self.listings += 1
        ids: set[str] = set()
        for collection in self._collections(filters):
            ids.update(collection.get(where=filters.where(), include=[])["ids"])
        return sorted(ids)

    def _view(self, filters: RetrievalFilters) -> _View:
        """The filter's view, current as of the bank's write counter read now."""
        key = json.dumps([filters.success_only, filters.where()], sort_keys=True, default=str)
        now = self.bank.version()
        view = self._views.get(key)
        if view is not None and (now is None or view.version is None or now != view.version):
            touched = None if now is None or view.version is None else self.bank.changes_since(view.version, now)
            if touched is None or len(touched) > APPLY_MAX:
                view = None
            else:
                self._apply(view, touched, filters)
                view.version = now
        if view is None:
            if len(self._views) >= self.VIEW_CACHE_SIZE:
                self._views.clear()
            ids = self._list(filters)  # after reading `now`: a write in between is applied again next time
            self._views[key] = view = _View(now, ids, set(ids))
        return view

    def _apply(self, view: _View, touched: frozenset[str], filters: RetrievalFilters) -> None:
        """Bring a view up to date with the ids some writes touched: each is a candidate now or it is not."""
        if not touched:
            return
        ids, base = sorted(touched), filters.where()
        present: set[str] = set()
        for collection in self._collections(filters):
            if base is None:
                present.update(get_by_ids(collection, ids, [])["ids"])
            else:
                present.update(collection.get(where={"$and": [base, {"cid": {"$in": ids}}]}, include=[])["ids"])
        for cid in ids:
            view.add(cid) if cid in present else view.remove(cid)

    def _size(self, collection: Any) -> int:
        """A collection's count, asked of Chroma again only when the bank's write counter moved."""
        now = self.bank.version()
        cached = self._sizes.get(collection.name)
        if now is None or cached is None or cached[0] != now:
            cached = (now, collection.count())  # after reading `now`: a write in between counts next time
            self._sizes[collection.name] = cached
        return cached[1]

    def _finish(self, scored: list[tuple[str, float]], strategy: Strategy, filters: RetrievalFilters) -> list[RetrievedCase]:
        if not scored:
            return []
        metas: dict[str, dict[str, Any]] = {}
        ids = [cid for cid, _ in scored]
        for collection in self._collections(filters):
            got = collection.get(ids=ids, include=["metadatas"])
            metas.update(zip(got["ids"], got["metadatas"]))
        return [
            RetrievedCase.model_construct(case=case_from_record(metas[cid]), score=float(score), rank=rank, strategy=strategy)
            for rank, (cid, score) in enumerate(scored, start=1)
            if cid in metas
        ]

    def retrieve(self, query: str, k: int, strategy: Strategy, filters: RetrievalFilters, seed: int = 0) -> list[RetrievedCase]:
        if k <= 0 or strategy == "none":
            return []
        if strategy == "dense":
            return self.dense(query, k, filters)
        scored = {
            "random": lambda: self._random(k, filters, seed),
            "bm25": lambda: self._bm25(query, k, filters),
            "hybrid": lambda: self._hybrid(query, k, filters),
            "mmr": lambda: self._mmr(query, k, filters),
        }[strategy]()
        return self._finish(scored, strategy, filters)

    # ---- strategies ----------------------------------------------------------------------------
    def _random(self, k: int, filters: RetrievalFilters, seed: int) -> list[tuple[str, float]]:
        with self._lock:
            ids = self._view(filters).ids
            return [(cid, 0.0) for cid in random.Random(seed).sample(ids, min(k, len(ids)))]

    def _bm25_index(self, filters: RetrievalFilters) -> tuple[_BM25Index | None, _View]:
        """The BM25 index for these filters, and their view. After a write the index is not rebuilt: the few
        documents added since (up to DELTA_MAX, or 1% of the indexed ones) are scored beside it with its
        statistics, and documents gone are left out; past that, it is rebuilt."""
        view = self._view(filters)
        entry = view.bm25
        if entry is not None and entry.changed + len(view.pending) <= max(self.DELTA_MAX, len(entry.ids) // 100):
            if view.pending:
                added = sorted(view.pending)
                documents = self._documents(added, filters)
                for cid, tokens in zip(added, _words([documents[i] for i in added]), strict=True):
                    entry.extra[cid] = tokens
                view.pending.clear()
            return entry, view
        if not view.ids:
            view.bm25 = None
            return None, view
        ids = tuple(view.ids)
        documents = self._documents(list(ids), filters)
        tokens = _tokenize([documents[i] for i in ids])
        index = bm25s.BM25()
        index.index(tokens, show_progress=False)
        view.bm25 = entry = _BM25Index(ids, index, float(np.mean([len(doc) for doc in tokens.ids])))
        view.pending.clear()
        return entry, view

    def _documents(self, ids: list[str], filters: RetrievalFilters) -> dict[str, str]:
        documents: dict[str, str] = {}
        for collection in self._collections(filters):
            got = get_by_ids(collection, ids, ["documents"])
            documents.update(zip(got["ids"], got["documents"], strict=True))
        return documents

    def _bm25(self, query: str, k: int, filters: RetrievalFilters) -> list[tuple[str, float]]:
        with self._lock:
            return self._bm25_locked(query, k, filters)

    def _bm25_locked(self, query: str, k: int, filters: RetrievalFilters) -> list[tuple[str, float]]:
        entry, view = self._bm25_index(filters)
        if entry is None:
            return []
        query_tokens = _tokenize([query])
        if not query_tokens.vocab:  # nothing but stopwords: no lexical evidence at all
            return []
        live = view.members
        docs, scores = entry.index.retrieve(query_tokens, k=min(k + len(entry.gone), len(entry.ids)), show_progress=False)
        scored = [(entry.ids[int(d)], float(s)) for d, s in zip(docs[0], scores[0]) if s > 0 and entry.ids[int(d)] in live]
        words = _words([query])[0]
        scored += [(cid, score) for cid, doc in entry.extra.items() if cid in live and (score := entry.score(words, doc)) > 0]
        return sorted(scored, key=lambda x: (-x[1], x[0]))[:k]

    def _dense_candidates(self, query: str, n: int, filters: RetrievalFilters, with_embeddings: bool = False,
                          vector: Any = None) -> list[dict[str, Any]]:
        include = ["metadatas", "distances"] + (["embeddings"] if with_embeddings else [])
        query_vec = self.bank.embedder.embed([query]) if vector is None else np.asarray([vector], dtype=np.float32)
        found = []
        for collection in self._collections(filters):
            size = self._size(collection)
            if not size:
                continue
            got = collection.query(query_embeddings=query_vec, n_results=min(n, size), where=filters.where(), include=include)
            for i, cid in enumerate(got["ids"][0]):
                found.append(
                    {
                        "id": cid,
                        "similarity": 1.0 - float(got["distances"][0][i]),  # cosine space
                        "metadata": got["metadatas"][0][i],
                        "embedding": got["embeddings"][0][i] if with_embeddings else None,
                    }
                )
        found.sort(key=lambda f: (-f["similarity"], f["id"]))
        return found[:n]

    def dense(self, query: str, k: int, filters: RetrievalFilters, vector: Any = None) -> list[RetrievedCase]:
        """`vector`: the query's embedding when the caller has it already (the write-back embeds before
        it takes the bank's lock, so no process waits on another's model)."""
        return [
            RetrievedCase.model_construct(case=case_from_record(f["metadata"]), score=f["similarity"], rank=rank, strategy="dense")
            for rank, f in enumerate(self._dense_candidates(query, k, filters, vector=vector), start=1)
        ]

    def _hybrid(self, query: str, k: int, filters: RetrievalFilters) -> list[tuple[str, float]]:
        depth = max(5 * k, 20)
        fused: dict[str, float] = {}
        ranked_lists = [
            [cid for cid, _ in self._bm25(query, depth, filters)],
            [f["id"] for f in self._dense_candidates(query, depth, filters)],
        ]
        for ranked in ranked_lists:
            for rank, cid in enumerate(ranked, start=1):
                fused[cid] = fused.get(cid, 0.0) + 1.0 / (RRF_K + rank)
        return sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:k]

    def _mmr(self, query: str, k: int, filters: RetrievalFilters) -> list[tuple[str, float]]:
        """Maximal marginal relevance over dense candidates: relevance minus redundancy with what is chosen."""
        candidates = self._dense_candidates(query, max(4 * k, 20), filters, with_embeddings=True)
        if not candidates:
            return []
        lam = self.bank.settings.mmr_lambda
        vectors = np.asarray([c["embedding"] for c in candidates], dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12
        relevance = np.asarray([c["similarity"] for c in candidates])
        chosen: list[int] = []
        picked: list[tuple[str, float]] = []
        while len(chosen) < min(k, len(candidates)):
            redundancy = (vectors @ vectors[chosen].T).max(axis=1) if chosen else np.zeros(len(candidates))
            objective = lam * relevance - (1 - lam) * redundancy
            objective[chosen] = -np.inf
            best = int(np.argmax(objective))
            chosen.append(best)
            picked.append((candidates[best]["id"], float(objective[best])))
        return picked
