"""CaseBank: cases stored in Chroma, retrieved by strategy, written back under a policy.

Layout. Two collections: `<name>` holds retrievable cases (verified successes), `<name>_quarantine`
holds failed or unverified trajectories kept for analysis. Each record's document is the task text
(what gets embedded), its metadata holds scalar fields for filtering plus the full case as JSON, so
the trajectory lives with the case and there is no second store to drift. Usage counters live only in
their own scalar fields (never inside the JSON) so an update touches one place.

Several processes, one embedded bank (a `casebank serve` and a `casebank import` on one data dir, or
four agents). Chroma's embedded client caches each collection's HNSW index in the process that opened
it and does not look at other processes' writes before a query: `get` reads SQLite and sees them, but
a dense query in a long-running process missed a case another process had added, so retrieval was
stale and the near-duplicate check let a second copy in. The design, enforced here:
- every write happens under `locked()`: a thread lock plus `fcntl.flock` on `<data_dir>/bank.lock`,
  so the dedup check and its write, and the usage counters' read-modify-write, are one step across
  processes (no lost counter updates, no duplicates);
- every locked section ends by bumping a counter in `<data_dir>/bank.version` (written atomically; on a
  Chroma server with Postgres, a row every replica reads, see below), and the process remembers which ids
  its own sections touched (`changes_since`), so the retriever brings its candidate ids and BM25 index up to
  date without listing the collection; a write by anyone else makes it list once;
- before each retrieval or read (`get`, `all`, `count`) and at the start of each locked section, the
  bank compares that counter with the one it last saw and, when another process has written, reopens
  its Chroma client (a new Chroma system for the path, so the HNSW index is loaded afresh from disk
  and the log). Checking costs one small file read (~30 us); a reopen, only after someone else wrote,
  about 30 ms, plus 10-50 ms for the first query that reloads the index (measured, 200-1,000 cases).
A Chroma server (`chroma_url`) is one process that sees all writes, so nothing is reopened; but two
API replicas (processes on one or several machines) still race on the same read-modify-write steps, and
Chroma has no transactions. So on a server `locked()` takes a lock the writers share:
- with `checkpoint_url` (Postgres, as API replicas have) a Postgres advisory lock keyed by the collection
  name, on one connection per bank: a waiter polls `pg_try_advisory_lock` (see `wait_for_advisory_lock`:
  it is never left inside a long statement) until the other replica lets go, and a replica killed while
  holding it loses its connection, which releases the lock; the write counter is a row of
  `casebank_bank_versions`, bumped under that lock;
- without it, the same `fcntl` lock on `<data_dir>/bank.lock` (processes on one machine and data dir).
Writers are serialised per bank; readers (retrieval) never wait. docs/scale.md has the measurements.

Batches are all or nothing across both collections. Every case is checked (`check_value`: no lone
surrogates, NUL characters or runaway nesting anywhere), serialised and embedded before the lock is
taken and anything is written. Chroma has no transactions, so the write keeps an undo: it snapshots
the records the batch will overwrite, and if any write fails it deletes what the batch added and puts
the snapshot back. A process killed in the middle of a batch can leave part of it; writes are
idempotent upserts by content id, so running the import again completes it.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import tempfile
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import chromadb
from pydantic import BaseModel

from casebank import envs
from casebank.chroma_records import case_from_record, case_metadata
from casebank.config import Settings, Strategy
from casebank.embedding import CasebankEmbeddingFunction, Embedder
from casebank.models import Case, TextError, Usage, check_value
from casebank.retrieval import RetrievalFilters, RetrievedCase, Retriever, get_by_ids

EMBED_BATCH = 128  # texts per embedder call (sorted by length first; the model batches by 32 inside)
LOCK_FILE = "bank.lock"
VERSION_FILE = "bank.version"
BANK_LOCK = "casebank:bank:"  # + the collection name: the advisory lock's name on Postgres
CHANGE_LOG = 1024  # this process's last writes whose touched ids the retriever can apply (older: it lists)
VERSIONS_TABLE = "casebank_bank_versions"  # the write counters on Postgres: (name, version)

log = logging.getLogger(__name__)


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
    hnsw: dict[str, Any] = {}  # the dense index's parameters, as the retrievable collection was built


def hnsw_settings(collection: Any) -> dict[str, Any]:
    """A collection's HNSW configuration as Chroma stores it ({} when it has none)."""
    return dict((collection.configuration or {}).get("hnsw") or {})


def make_client(settings: Settings) -> Any:
    """A Chroma client. Embedded: always a new Chroma system for the path, never the one chromadb
    caches per path in this process, whose HNSW index may predate other processes' writes."""
    envs.offline_libraries()  # chromadb's settings read ANONYMIZED_TELEMETRY when a client is made
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        return chromadb.HttpClient(host=url.hostname or "localhost", port=url.port or 8000, ssl=url.scheme == "https")
    settings.chroma_path.mkdir(parents=True, exist_ok=True)
    path = str(settings.chroma_path)
    from chromadb.api.shared_system_client import SharedSystemClient

    # chromadb offers only clear_system_cache(), which would drop every path's system; forget just
    # ours. The old system stays usable by whoever still holds it and is freed with its last user.
    with SharedSystemClient._refcount_lock:
        SharedSystemClient._identifier_to_system.pop(path, None)
        SharedSystemClient._identifier_to_refcount.pop(path, None)
    return chromadb.PersistentClient(path=path)


@dataclass
class _Batch:
    """Cases ready to write to one collection: checked, serialised and embedded, nothing written yet."""

    target: Literal["cases", "quarantine"]
    ids: list[str]
    documents: list[str]
    metadatas: list[dict[str, Any]]
    embeddings: list[Any]


def _serialised(cases: Sequence[Case]) -> list[tuple[Case, dict[str, Any]]]:
    """Check every string of every case (a model_copy skips validation, so the bank checks again) and
    serialise it; raise TextError naming the case's position and field before anything is written.
    A repeated id keeps its last record, as an upsert of both would."""
    out: dict[str, tuple[Case, dict[str, Any]]] = {}
    for i, case in enumerate(cases):
        try:
            check_value(case)
        except TextError as e:
            raise TextError(e.field, e.problem, index=i) from None
        out[case.id] = (case, case_metadata(case))
    return list(out.values())


def _shorter(a: Case, b: Case) -> bool:
    """Is `a` the better trajectory to keep? Fewer steps, then fewer tokens, then the older one."""
    return (a.stats.steps, a.stats.approx_tokens, a.created_at) < (b.stats.steps, b.stats.approx_tokens, b.created_at)


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for a Postgres advisory lock (`pg_advisory_lock(bigint)`)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


ADVISORY_POLL_S = (0.01, 0.25)  # the first and the longest wait between two tries of a held advisory lock


def wait_for_advisory_lock(conn: Any, key: int) -> None:
    """Take the session-level advisory lock `key` on `conn` (autocommit), waiting as long as it takes.

    It polls `pg_try_advisory_lock` instead of blocking in `pg_advisory_lock`: a blocked waiter is a
    statement that stays open, and `CREATE INDEX CONCURRENTLY` (LangGraph's PostgresSaver.setup runs it)
    waits for every open statement to end. A replica that held the setup lock while creating that index on
    another connection of its pool then waited for a replica that waited for its lock: a deadlock Postgres
    cannot see (the lock's holder is an idle connection), which hung two replicas started together. Between
    tries the waiter holds no statement open, so such an index build goes through."""
    pause, longest = ADVISORY_POLL_S
    while not _first_value(conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()):
        time.sleep(pause)
        pause = min(pause * 2, longest)


def _first_value(row: Any) -> Any:
    """The first column of a row, whether the connection returns tuples or dicts."""
    return next(iter(row.values())) if isinstance(row, dict) else row[0]


class PostgresLock:
    """A Postgres advisory lock on a connection of its own, and the bank's write counter beside it. The lock
    is used under the bank's thread lock only, so one connection serves the whole process; it is opened on
    first use and again after it broke (a Postgres restart drops the connection and, with it, any lock it
    held). The counter is read on a second connection, by any thread."""

    def __init__(self, url: str, name: str):
        self.url, self.name, self.key = url, name, advisory_key(name)
        self._conn: Any = None
        self._reader: Any = None
        self._read_lock = threading.Lock()

    def _connection(self, fresh: bool = False) -> Any:
        import psycopg

        if fresh or self._conn is None or self._conn.closed or self._conn.broken:
            if self._conn is not None:
                self._conn.close()
            self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        return self._conn

    @contextmanager
    def held(self) -> Iterator[None]:
        import psycopg

        try:
            conn = self._connection()
            wait_for_advisory_lock(conn, self.key)
        except psycopg.OperationalError:  # the kept connection died since its last use: one fresh try
            conn = self._connection(fresh=True)
            wait_for_advisory_lock(conn, self.key)
        try:
            yield
        finally:
            try:
                conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
            except psycopg.Error:
                log.warning("could not release the bank lock on Postgres; its connection is gone, and the lock with it")

    def bump(self) -> int:
        """Add one to the bank's write counter and return it. Called while the lock is held, on its connection."""
        conn = self._connection()
        _create_versions_table(conn)
        row = conn.execute(f"INSERT INTO {VERSIONS_TABLE} (name, version) VALUES (%s, 1) ON CONFLICT (name) "
                           f"DO UPDATE SET version = {VERSIONS_TABLE}.version + 1 RETURNING version", (self.name,)).fetchone()
        return int(_first_value(row))

    def version(self) -> int | None:
        """The bank's write counter as every replica sees it (0 before the first write), on a connection of its
        own (any thread, lock held or not); None when Postgres cannot be reached: the caller then lists."""
        import psycopg

        with self._read_lock:
            try:
                if self._reader is None or self._reader.closed or self._reader.broken:
                    self._reader = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
                row = self._reader.execute(f"SELECT version FROM {VERSIONS_TABLE} WHERE name = %s", (self.name,)).fetchone()
            except psycopg.errors.UndefinedTable:
                return 0
            except psycopg.Error:
                log.warning("could not read the bank's write counter on Postgres; retrieval lists the collection")
                return None
        return int(_first_value(row)) if row else 0

    def close(self) -> None:
        for conn in (self._conn, self._reader):
            if conn is not None:
                conn.close()


def _create_versions_table(conn: Any) -> None:
    import psycopg

    try:
        conn.execute(f"CREATE TABLE IF NOT EXISTS {VERSIONS_TABLE} (name text PRIMARY KEY, version bigint NOT NULL)")
    except psycopg.errors.UniqueViolation:  # another replica created it at the same moment
        pass


class CaseBank:
    """The bank in one process. See the module docstring for how several processes share one."""

    def __init__(self, settings: Settings | None = None):
        self.settings = settings or Settings()
        self._ef = CasebankEmbeddingFunction(self.settings.embedder_path)
        self._thread_lock = threading.RLock()
        self._refresh_lock = threading.Lock()
        self._seen_version = self._read_version()  # read before opening: a write in between refreshes
        self._changes: OrderedDict[int, frozenset[str] | None] = OrderedDict()  # version -> ids our write touched
        self._touched: set[str] = set()  # in a locked section: the ids written so far
        self._touched_all = False  # in a locked section: a write whose ids are not known (a reset)
        self._pg_lock = (PostgresLock(self.settings.checkpoint_url, BANK_LOCK + self.settings.collection)
                         if self.settings.chroma_url and self.settings.checkpoint_url else None)
        self.reopened = 0  # how many times another process's writes made this one reopen Chroma
        self._warned: set[str] = set()  # collections whose HNSW settings differ from the settings', warned once
        self._connect()
        self._max_batch = int(self.client.get_max_batch_size())
        self.retriever = Retriever(self)

    def _connect(self) -> None:
        self.client = make_client(self.settings)
        self._open_collections()

    def _open_collections(self) -> None:
        self.cases = self._open(self.settings.collection)
        self.quarantine = self._open(self.settings.collection + "_quarantine")

    def _open(self, name: str) -> Any:
        """A collection, created with the settings' HNSW parameters. An existing one keeps the M and
        ef_construction it was built with (Chroma fixes them at creation; a warning names both); its
        ef_search is set to the settings' when they differ."""
        wanted = {"max_neighbors": self.settings.hnsw_m, "ef_construction": self.settings.hnsw_ef_construction,
                  "ef_search": self.settings.hnsw_ef_search}
        collection = self.client.get_or_create_collection(
            name, embedding_function=self._ef, configuration={"hnsw": {"space": "cosine", **wanted}}
        )
        built = hnsw_settings(collection)
        if built.get("ef_search") != wanted["ef_search"]:
            collection.modify(configuration={"hnsw": {"ef_search": wanted["ef_search"]}})
        fixed = {key: built.get(key) for key in ("max_neighbors", "ef_construction")}
        if fixed != {key: wanted[key] for key in fixed} and name not in self._warned:
            self._warned.add(name)
            log.warning("collection %s was built with HNSW %s; the settings ask for %s, which only a new collection "
                        "gets (docs/scale.md: rebuilding a bank)", name, fixed, {key: wanted[key] for key in fixed})
        return collection

    def hnsw(self) -> dict[str, Any]:
        """The HNSW parameters the retrievable collection was built with (and its ef_search now)."""
        return {key: value for key, value in hnsw_settings(self.cases).items()
                if key in ("space", "max_neighbors", "ef_construction", "ef_search")}

    @property
    def embedder(self) -> Embedder:
        return self._ef.embedder

    # ---- other processes' writes -------------------------------------------------------------------
    @property
    def _embedded(self) -> bool:
        return not self.settings.chroma_url

    def _read_version(self) -> int:
        try:
            return int((Path(self.settings.data_dir) / VERSION_FILE).read_text() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def _bump_version(self) -> int:
        """Tell other processes this one wrote; the new count. Called under the file lock, so increments never
        race; written by rename, so a reader never sees half a number."""
        data_dir = Path(self.settings.data_dir)
        with self._refresh_lock:
            version = self._read_version() + 1
            fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=".bank.version.")
            with os.fdopen(fd, "w") as fh:
                fh.write(str(version))
            os.replace(tmp, data_dir / VERSION_FILE)
            self._seen_version = version
        return version

    def version(self) -> int | None:
        """The bank's write counter, bumped by every locked section of every writer: on a Chroma server with
        Postgres its row there, else `<data_dir>/bank.version`. One small read; None: Postgres unreachable."""
        return self._pg_lock.version() if self._pg_lock is not None else self._read_version()

    def changes_since(self, version: int, now: int) -> frozenset[str] | None:
        """The ids that the writes after `version`, up to `now`, touched (added, changed or deleted), when every
        one of those writes was this process's and is still remembered (CHANGE_LOG); None otherwise."""
        if not version <= now <= version + CHANGE_LOG:
            return None
        touched: set[str] = set()
        with self._refresh_lock:
            for v in range(version + 1, now + 1):
                ids = self._changes.get(v)
                if ids is None:
                    return None
                touched.update(ids)
        return frozenset(touched)

    def _touch(self, *ids: str) -> None:
        """Remember ids this locked section writes (the retriever's views apply them)."""
        self._touched.update(ids)

    def _remember(self, version: int, touched: frozenset[str] | None) -> None:
        with self._refresh_lock:
            self._changes[version] = touched
            while len(self._changes) > CHANGE_LOG:
                self._changes.popitem(last=False)

    def refresh(self) -> bool:
        """Reopen Chroma when another process has written since this one last looked; True if it did."""
        if not self._embedded:
            return False
        version = self._read_version()
        if version == self._seen_version:
            return False
        with self._refresh_lock:
            if version == self._seen_version:
                return False
            self._connect()
            # Only the version read *before* reopening is known to be covered by what we now see.
            self._seen_version = version
            self.reopened += 1
            return True

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Serialise read-modify-write across threads and processes: a thread lock, plus a file lock
        (embedded bank, or a Chroma server without Postgres) or a Postgres advisory lock (a Chroma server
        shared by replicas), so a CLI and a server, or two API replicas, do not interleave their updates.
        Embedded, the view inside is fresh (other processes' writes visible). On leaving, still under the
        lock, the write counter is bumped (other processes refresh, and list again) and the ids the section
        touched are remembered under the new count (this process's retriever applies them)."""
        with self._thread_lock, self._writers_lock():
            self._touched, self._touched_all = set(), False
            failed = True
            try:
                yield
                failed = False
            finally:
                version = self._pg_lock.bump() if self._pg_lock is not None else self._bump_version()
                self._remember(version, None if failed or self._touched_all else frozenset(self._touched))

    @contextmanager
    def _writers_lock(self) -> Iterator[None]:
        """The lock every writer of this bank shares: Postgres's advisory lock, or `fcntl` on the data dir."""
        if self._pg_lock is not None:
            with self._pg_lock.held():
                yield
            return
        data_dir = Path(self.settings.data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        with (data_dir / LOCK_FILE).open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                if self._embedded:
                    self.refresh()
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # ---- storage -------------------------------------------------------------------------------
    def _prepare(self, target: Literal["cases", "quarantine"], rows: list[tuple[Case, dict[str, Any]]],
                 on_progress: Callable[[int], None] | None) -> _Batch:
        """Embed (the slow part, in batches, with progress) before any lock is taken. The texts go to the
        embedder shortest first, so each batch pads to a similar length (as sentence-transformers sorts within
        one call); the vectors come back in the rows' order."""
        vectors: list[Any] = [None] * len(rows)
        order = sorted(range(len(rows)), key=lambda i: len(rows[i][0].task))
        for start in range(0, len(order), EMBED_BATCH):
            chunk = order[start : start + EMBED_BATCH]
            for i, vector in zip(chunk, self.embedder.embed([rows[i][0].task for i in chunk]), strict=True):
                vectors[i] = vector
            if on_progress:
                on_progress(len(chunk))
        return _Batch(target, [c.id for c, _ in rows], [c.task for c, _ in rows], [m for _, m in rows], vectors)

    def _write(self, batches: Sequence[_Batch]) -> None:
        """Write prepared batches, all or nothing (call under `locked()`). Chroma has no transactions:
        snapshot what each batch overwrites, and on any failure undo in reverse order."""
        undo: list[tuple[_Batch, dict[str, Any]]] = []
        try:
            for batch in batches:
                if not batch.ids:
                    continue
                collection = getattr(self, batch.target)
                before = get_by_ids(collection, batch.ids, ["documents", "metadatas", "embeddings"])
                undo.append((batch, before))
                self._touch(*batch.ids)
                for start in range(0, len(batch.ids), self._max_batch):
                    end = start + self._max_batch
                    collection.upsert(ids=batch.ids[start:end], documents=batch.documents[start:end],
                                      metadatas=batch.metadatas[start:end], embeddings=batch.embeddings[start:end])
        except BaseException:
            self._undo(undo)
            raise

    def _undo(self, undo: list[tuple[_Batch, dict[str, Any]]]) -> None:
        for batch, before in reversed(undo):
            collection = getattr(self, batch.target)
            try:
                existed = set(before["ids"])
                added = [i for i in batch.ids if i not in existed]
                for start in range(0, len(added), self._max_batch):
                    collection.delete(ids=added[start : start + self._max_batch])
                for start in range(0, len(before["ids"]), self._max_batch):
                    end = start + self._max_batch
                    collection.upsert(ids=before["ids"][start:end], documents=before["documents"][start:end],
                                      metadatas=before["metadatas"][start:end], embeddings=before["embeddings"][start:end])
            except Exception:
                log.exception("could not undo a failed batch write in %s; re-run the import", batch.target)

    def upsert(self, cases: Sequence[Case], on_progress: Callable[[int], None] | None = None) -> int:
        """Idempotent bulk write of validated cases: verified successes to the bank, the rest to
        quarantine, all or nothing. Returns how many entered the retrievable bank. Raises TextError
        (a ValueError naming the case's position and field) before writing anything."""
        rows = _serialised(cases)
        good = [r for r in rows if r[0].outcome.verified_success]
        bad = [r for r in rows if not r[0].outcome.verified_success]
        batches = [self._prepare("cases", good, on_progress), self._prepare("quarantine", bad, on_progress)]
        with self.locked():
            self._write(batches)
        return len(good)

    def get(self, case_id: str, *, quarantined: bool = False) -> Case | None:
        self.refresh()
        collection = self.quarantine if quarantined else self.cases
        got = collection.get(ids=[case_id], include=["metadatas"])
        return case_from_record(got["metadatas"][0]) if got["ids"] else None

    def all(self, *, quarantined: bool = False, where: dict[str, Any] | None = None) -> list[Case]:
        self.refresh()
        collection = self.quarantine if quarantined else self.cases
        got = collection.get(where=where, include=["metadatas"])
        return sorted((case_from_record(m) for m in got["metadatas"]), key=lambda c: c.id)

    def delete(self, case_id: str) -> bool:
        with self.locked():
            found = False
            for collection in (self.cases, self.quarantine):
                if collection.get(ids=[case_id], include=[])["ids"]:
                    collection.delete(ids=[case_id])
                    self._touch(case_id)
                    found = True
            return found

    def count(self, *, quarantined: bool = False) -> int:
        self.refresh()
        return (self.quarantine if quarantined else self.cases).count()

    def reset(self) -> None:
        with self.locked():
            self._touched_all = True
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
            hnsw=self.hnsw(),
        )

    # ---- write-back policy -----------------------------------------------------------------------
    def write_back(self, case: Case) -> WriteBackResult:
        """Only verified successes become retrievable; a near-duplicate task keeps the shorter trajectory.
        The case is checked, serialised and embedded first; then the dedup check and the write are one
        step under `locked()`, with other processes' writes visible."""
        target: Literal["cases", "quarantine"] = "cases" if case.outcome.verified_success else "quarantine"
        batch = self._prepare(target, _serialised([case]), None)  # TextError here: nothing locked or written
        with self.locked():
            if target == "quarantine":
                self._write([batch])
                return WriteBackResult(action="quarantined", case_id=case.id)
            if self.get(case.id) is not None:
                return WriteBackResult(action="unchanged", case_id=case.id)
            nearest = self.retriever.dense(case.task, 1, RetrievalFilters(), vector=batch.embeddings[0])
            if nearest and nearest[0].score >= self.settings.dedup_threshold:
                return self._merge(batch, case, nearest[0].case, nearest[0].score)
            self._write([batch])
            return WriteBackResult(action="added", case_id=case.id)

    def _merge(self, batch: _Batch, new: Case, old: Case, similarity: float) -> WriteBackResult:
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
        if keep.id == old.id:  # the stored case stays: its document and vector are unchanged, only metadata
            self.cases.update(ids=[old.id], metadatas=[case_metadata(keep)])
        else:
            # Write the keeper before deleting: a crash in between leaves two valid cases, never zero.
            self._write([_Batch("cases", [keep.id], [keep.task], [case_metadata(keep)], batch.embeddings)])
            self.cases.delete(ids=[old.id])
        self._touch(keep.id, old.id)
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
        self.refresh()  # other processes' writes, visible to dense search too
        return self.retriever.retrieve(
            query,
            self.settings.default_k if k is None else k,
            strategy or self.settings.default_strategy,
            filters or RetrievalFilters(),
            seed=seed,
        )
