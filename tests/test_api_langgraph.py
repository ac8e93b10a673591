"""langgraph.json: LangGraph's own dev server / Studio can load the agent graph from it."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph.state import CompiledStateGraph

from agent.config import AgentConfig
from serving.langgraph_entry import build_studio_graph
from serving.testing import EchoToolModel

REPO = Path(__file__).resolve().parent.parent


def load_factory():  # noqa: ANN201
    spec = json.loads((REPO / "langgraph.json").read_text())
    path, _, name = spec["graphs"]["casebank"].partition(":")
    module_spec = importlib.util.spec_from_file_location("langgraph_entry_from_json", REPO / path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return getattr(module, name)


def test_langgraph_json_names_a_graph_factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEBANK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CASEBANK_CONFIG", str(tmp_path / "none.toml"))
    graph = load_factory()({"configurable": {"model": "casebank-nocases"}})
    assert isinstance(graph, CompiledStateGraph)
    assert {"prepare", "agent"} <= set(graph.get_graph().nodes)


def test_the_studio_graph_runs_turns_on_a_thread(tmp_path: Path) -> None:
    graph = build_studio_graph(AgentConfig(data_dir=tmp_path, k=0), EchoToolModel())
    graph = graph.builder.compile(checkpointer=InMemorySaver())  # the LangGraph server brings its own persistence
    thread = {"configurable": {"thread_id": "studio-thread"}}
    first = graph.invoke({"messages": [HumanMessage("remember 42")]}, thread)
    assert first["submitted"] == "You said: remember 42. Earlier: nothing. Files: turn-1.txt."
    second = graph.invoke({"messages": [HumanMessage("what number?")]}, thread)
    assert second["submitted"] == "You said: what number?. Earlier: remember 42. Files: turn-1.txt, turn-2.txt."
    assert (tmp_path / "workspaces" / "studio-thread" / "turn-2.txt").read_text() == "what number?"
    assert second["outcome"].detail == "submitted; unverified, awaiting feedback"
