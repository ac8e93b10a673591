"""The last turn of each conversation, kept so feedback can find its trajectory.

One process (the default): in memory (an LRU) and as JSON under DATA_DIR/conversations/<id>.json (written
atomically), so feedback works after a restart. API replicas (CASEBANK_CHECKPOINT_URL=postgresql://...):
in a Postgres table, read afresh each time, since the other replica may have written since; there
`locked(id)` also holds a Postgres advisory lock per conversation, so two replicas never run turns of one
conversation at once (a replica that dies holding it loses its connection, and Postgres frees the lock).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field

from agent.runner import CONVERSATION_ID, EpisodeResult


class FeedbackRecord(BaseModel):
    success: bool
    note: str | None = None
    trajectory_id: str
    action: str
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class ConversationRecord(BaseModel):
    conversation_id: str
    owner: str | None = None  # hash of the API key that started it; None when auth is off
    model: str  # the API model (profile) of the last turn
    turns: int = 0
    updated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    last: EpisodeResult
    feedback: FeedbackRecord | None = None  # on the last turn


class ConversationStore:
    """The files-and-LRU store of one process."""

    def __init__(self, folder: Path, cache_size: int = 1024):
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self._cache: OrderedDict[str, ConversationRecord] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def _path(self, conversation_id: str) -> Path:
        if not CONVERSATION_ID.match(conversation_id):
            raise ValueError(f"bad conversation id {conversation_id!r}")
        return self.folder / f"{conversation_id}.json"

    def get(self, conversation_id: str) -> ConversationRecord | None:
        with self._lock:
            if conversation_id in self._cache:
                self._cache.move_to_end(conversation_id)
                return self._cache[conversation_id]
        path = self._path(conversation_id)
        if not path.is_file():
            return None
        record = ConversationRecord.model_validate_json(path.read_text(encoding="utf-8"))
        self._remember(record)
        return record

    def save(self, record: ConversationRecord) -> None:
        path = self._path(record.conversation_id)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(record.model_dump_json(), encoding="utf-8")
        tmp.replace(path)
        self._remember(record)

    def _remember(self, record: ConversationRecord) -> None:
        with self._lock:
            self._cache[record.conversation_id] = record
            self._cache.move_to_end(record.conversation_id)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def locked(self, conversation_id: str) -> nullcontext[None]:
        """Turns of one conversation are serialised in-process by the service; nothing else shares the files."""
        return nullcontext()

    def close(self) -> None:
        pass


TABLE = "casebank_conversations"
CONVERSATION_LOCK = "casebank:conversation:"


class PostgresConversationStore:
    """The records of all replicas in one table (no cache: another replica may have written since)."""

    def __init__(self, url: str, max_connections: int):
        from agent.checkpoint import SETUP_LOCK, advisory_lock, postgres_pool

        # Each running turn holds one connection for its conversation's lock and borrows another to read
        # or save the record: a few more connections than worker threads.
        self.pool = postgres_pool(url, max_connections, name="casebank-conversations")
        self._advisory_lock = advisory_lock
        with advisory_lock(self.pool, SETUP_LOCK), self.pool.connection() as conn:
            conn.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (conversation_id text PRIMARY KEY, record text NOT NULL, "
                         "updated_at timestamptz NOT NULL)")

    def get(self, conversation_id: str) -> ConversationRecord | None:
        with self.pool.connection() as conn:
            row = conn.execute(f"SELECT record FROM {TABLE} WHERE conversation_id = %s", (conversation_id,)).fetchone()
        return None if row is None else ConversationRecord.model_validate_json(row["record"])

    def save(self, record: ConversationRecord) -> None:
        with self.pool.connection() as conn:
            conn.execute(f"INSERT INTO {TABLE} (conversation_id, record, updated_at) VALUES (%s, %s, %s) "
                         "ON CONFLICT (conversation_id) DO UPDATE SET record = excluded.record, updated_at = excluded.updated_at",
                         (record.conversation_id, record.model_dump_json(), record.updated_at))

    @contextmanager
    def locked(self, conversation_id: str) -> Iterator[None]:
        with self._advisory_lock(self.pool, CONVERSATION_LOCK + conversation_id):
            yield

    def close(self) -> None:
        self.pool.close()
