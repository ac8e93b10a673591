"""Conversation checkpoints in SQLite: a conversation survives a process restart."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite import SqliteSaver

from agent.state import CHECKPOINT_TYPES


def sqlite_checkpointer(path: Path | str) -> SqliteSaver:
    """A saver on `path` (created if missing). Safe to share between threads (the saver locks its
    connection); WAL lets a CLI and a server read one file while the other writes. Deserialization
    is limited to LangChain messages plus the state's own types."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    saver = SqliteSaver(conn, serde=JsonPlusSerializer(allowed_msgpack_modules=CHECKPOINT_TYPES))
    saver.setup()
    return saver
