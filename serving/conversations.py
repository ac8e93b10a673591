"""The last turn of each conversation, kept so feedback can find its trajectory: in memory (an LRU) and
as JSON under DATA_DIR/conversations/<id>.json (written atomically), so feedback works after a restart."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
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
