"""Retrieval strategies for ablations: none, random, bm25, dense, hybrid (RRF), mmr.

Each strategy returns ranked `RetrievedCase`s with the strategy's own score (bm25 score, cosine
similarity, reciprocal-rank-fusion score, MMR objective; random scores 0).
"""

from __future__ import annotations

import json
import math
import random
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
    case: Case
    score: float
    rank: int
    strategy: Strategy


def _tokenize(texts: list[str]) -> Any:
    return bm25s.tokenize(texts, stopwords="en", show_progress=False)


def _words(texts: list[str]) -> list[list[str]]:
    """`_tokenize`'s tokens as strings (the same rules: lower case, English stopwords out)."""
    return bm25s.tokenize(texts, stopwords="en", return_ids=False, show_progress=False)


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
    bm25s's Lucene formula, so their scores rank with the index's."""

    def __init__(self, ids: tuple[str, ...], index: Any, avgdl: float):
        self.ids, self.index, self.avgdl = ids, index, avgdl
        self.indexed = frozenset(ids)
        self.extra: dict[str, list[str]] = {}
        indptr = np.asarray(index.scores["indptr"])
        # bm25s's score matrix has a column per token (its padding token "" may have none): df = entries per column
        self.df = {token: int(indptr[t + 1] - indptr[t]) for token, t in index.vocab_dict.items() if t + 1 < len(indptr)}

    def score(self, query: list[str], doc: list[str]) -> float:
        n, k1, b = len(self.ids), self.index.k1, self.index.b
        norm = k1 * ((1 - b) + b * len(doc) / self.avgdl)
        total = 0.0
        for token in query:
            if tf := doc.count(token):
                df = self.df.get(token, 0)
                total += math.log(1 + (n - df + 0.5) / (df + 0.5)) * tf / (norm + tf)
        return total


class Retriever:
    # BM25 indexes are cached per filter. Ids are content hashes of the task text (the indexed document), so
    # an id always means the same document: each query lists the candidate ids (cheap), scores the indexed
    # ones still there, and scores documents written since (also by another process) beside the index.
    BM25_CACHE_SIZE = 8
    DELTA_MAX = 64  # documents written since an index was built that are scored beside it, not rebuilt

    def __init__(self, bank: CaseSource):
        self.bank = bank
        self._bm25_cache: dict[str, _BM25Index] = {}

    def _collections(self, filters: RetrievalFilters) -> list[Any]:
        return [self.bank.cases] if filters.success_only else [self.bank.cases, self.bank.quarantine]

    def _pool(self, filters: RetrievalFilters, include: list[str]) -> dict[str, dict[str, Any]]:
        """All candidate records passing the filters: id -> {document, metadata, ...}."""
        pool: dict[str, dict[str, Any]] = {}
        for collection in self._collections(filters):
            got = collection.get(where=filters.where(), include=include)
            for i, cid in enumerate(got["ids"]):
                pool[cid] = {key: got[key][i] for key in include}
        return dict(sorted(pool.items()))

    def _finish(self, scored: list[tuple[str, float]], strategy: Strategy, filters: RetrievalFilters) -> list[RetrievedCase]:
        if not scored:
            return []
        metas: dict[str, dict[str, Any]] = {}
        ids = [cid for cid, _ in scored]
        for collection in self._collections(filters):
            got = collection.get(ids=ids, include=["metadatas"])
            metas.update(zip(got["ids"], got["metadatas"]))
        return [
            RetrievedCase(case=case_from_record(metas[cid]), score=float(score), rank=rank, strategy=strategy)
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
        ids = list(self._pool(filters, include=[]))
        return [(cid, 0.0) for cid in random.Random(seed).sample(ids, min(k, len(ids)))]

    def _bm25_index(self, filters: RetrievalFilters) -> tuple[_BM25Index | None, tuple[str, ...]]:
        """The BM25 index for these filters, and the candidate ids now. After a write the index is not rebuilt:
        the few documents added since (up to DELTA_MAX, or 1% of the indexed ones) are scored beside it with
        its statistics, and documents gone are left out; past that, it is rebuilt."""
        ids = tuple(self._pool(filters, include=[]))
        key = json.dumps([filters.success_only, filters.where()], sort_keys=True, default=str)
        entry = self._bm25_cache.get(key)
        if entry is not None:
            added = [i for i in ids if i not in entry.indexed and i not in entry.extra]
            gone = len(entry.indexed) + len(entry.extra) + len(added) - len(ids)
            if len(entry.extra) + len(added) + gone <= max(self.DELTA_MAX, len(entry.ids) // 100):
                if added:
                    documents = self._documents(added, filters)
                    for cid, tokens in zip(added, _words([documents[i] for i in added]), strict=True):
                        entry.extra[cid] = tokens
                return entry, ids
        if not ids:
            return None, ids
        documents = self._documents(list(ids), filters)
        tokens = _tokenize([documents[i] for i in ids])
        index = bm25s.BM25()
        index.index(tokens, show_progress=False)
        if len(self._bm25_cache) >= self.BM25_CACHE_SIZE:
            self._bm25_cache.clear()
        self._bm25_cache[key] = entry = _BM25Index(ids, index, float(np.mean([len(doc) for doc in tokens.ids])))
        return entry, ids

    def _documents(self, ids: list[str], filters: RetrievalFilters) -> dict[str, str]:
        documents: dict[str, str] = {}
        for collection in self._collections(filters):
            got = get_by_ids(collection, ids, ["documents"])
            documents.update(zip(got["ids"], got["documents"], strict=True))
        return documents

    def _bm25(self, query: str, k: int, filters: RetrievalFilters) -> list[tuple[str, float]]:
        entry, ids = self._bm25_index(filters)
        if entry is None:
            return []
        query_tokens = _tokenize([query])
        if not query_tokens.vocab:  # nothing but stopwords: no lexical evidence at all
            return []
        live = set(ids)
        gone = len(entry.ids) - sum(1 for i in entry.ids if i in live)
        docs, scores = entry.index.retrieve(query_tokens, k=min(k + gone, len(entry.ids)), show_progress=False)
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
            size = collection.count()
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
            RetrievedCase(case=case_from_record(f["metadata"]), score=f["similarity"], rank=rank, strategy="dense")
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
