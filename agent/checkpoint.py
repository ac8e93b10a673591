"""Conversation checkpoints: SQLite under the data dir by default (one machine; a conversation survives a
process restart), or Postgres when `CASEBANK_CHECKPOINT_URL=postgresql://...` (API replicas on several
machines share their conversations). Both keep deserialisation to LangChain messages plus the state's own
types."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite import SqliteSaver

from agent.state import CHECKPOINT_TYPES
from casebank.bank import advisory_key, wait_for_advisory_lock

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool

    from casebank.config import Settings

# Two replicas starting at once must not both run the saver's schema migrations: they take this lock first.
SETUP_LOCK = "casebank:setup"


class CheckpointError(RuntimeError):
    """The configured checkpoint store cannot be used (Postgres unreachable, refused the login, ...)."""


def serializer() -> JsonPlusSerializer:
    return JsonPlusSerializer(allowed_msgpack_modules=CHECKPOINT_TYPES)


def sqlite_checkpointer(path: Path | str) -> SqliteSaver:
    """A saver on `path` (created if missing). Safe to share between threads (the saver locks its
    connection); WAL lets a CLI and a server read one file while the other writes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    saver = SqliteSaver(conn, serde=serializer())
    saver.setup()
    return saver


def redacted(url: str) -> str:
    """The URL without its password, for messages."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


def postgres_pool(url: str, max_size: int, *, name: str = "casebank", timeout_s: float = 10.0) -> ConnectionPool:
    """An open pool of autocommit connections, as PostgresSaver wants them. Raises CheckpointError (naming the
    server, not the password) when Postgres cannot be reached within `timeout_s`."""
    import psycopg
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool, PoolTimeout

    kwargs: dict[str, Any] = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
    try:
        with psycopg.connect(url, connect_timeout=max(1, int(timeout_s))) as probe:  # a clear error now, not in the pool
            probe.execute("SELECT 1")
        return ConnectionPool(url, min_size=1, max_size=max_size, kwargs=kwargs, name=name, open=True, timeout=timeout_s)
    except (psycopg.Error, PoolTimeout) as e:
        raise CheckpointError(f"cannot use Postgres at {redacted(url)}: {str(e).strip() or type(e).__name__}") from None


@contextmanager
def advisory_lock(pool: ConnectionPool, name: str) -> Iterator[None]:
    """Hold a session-level Postgres advisory lock on one of the pool's connections. A process that dies
    holding it loses its connection, and Postgres releases the lock: nothing stays stuck. The wait polls
    (`wait_for_advisory_lock`), so a waiter never blocks another replica's `CREATE INDEX CONCURRENTLY`."""
    key = advisory_key(name)
    with pool.connection() as conn:
        wait_for_advisory_lock(conn, key)
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (key,))


def postgres_checkpointer(url: str, max_size: int = 8) -> BaseCheckpointSaver:
    """A PostgresSaver over its own pool (threads borrow a connection per operation); tables are created or
    migrated once, under an advisory lock, so replicas may start together."""
    from langgraph.checkpoint.postgres import PostgresSaver

    pool = postgres_pool(url, max_size, name="casebank-checkpoints")
    saver = PostgresSaver(pool, serde=serializer())  # type: ignore[arg-type]
    with advisory_lock(pool, SETUP_LOCK):
        saver.setup()
    return saver


def make_checkpointer(settings: Settings, *, max_connections: int = 8) -> BaseCheckpointSaver:
    """The store `settings.checkpoint_url` names: Postgres, or (unset) SQLite under the data dir."""
    if settings.checkpoint_url:
        return postgres_checkpointer(settings.checkpoint_url, max_connections)
    return sqlite_checkpointer(settings.checkpoint_path)


def close_checkpointer(saver: BaseCheckpointSaver) -> None:
    """Close the saver's connection (SQLite) or pool (Postgres)."""
    saver.conn.close()  # type: ignore[attr-defined]
