"""The casebank agent: retrieve solved cases, act with tools in a sandbox, verify, write back.

Public API (imported lazily, so `agent.cli` stays light for `casebank --help`):
`Agent`, `EpisodeResult`, `AgentConfig`, `build_graph`, `AgentDeps`, `make_chat_model`.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Agent": "agent.runner",
    "EpisodeResult": "agent.runner",
    "AgentConfig": "agent.config",
    "AgentDeps": "agent.graph",
    "build_graph": "agent.graph",
    "ChatModel": "agent.model",
    "make_chat_model": "agent.model",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'agent' has no attribute {name!r}")
