"""The agent graph for LangGraph's own tooling (`langgraph dev`, LangGraph Studio): see langgraph.json.

Studio sends `{"messages": [...]}` on a thread; a `prepare` node fills in what `agent.state.new_turn`
would (the thread's workspace, the turn's limits, the per-turn fields reset), then the agent graph runs
as a subgraph. The LangGraph server brings its own persistence, so no checkpointer is compiled in.
Settings come from the environment (CASEBANK_*), as for `casebank serve`.
"""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agent.config import AgentConfig
from agent.graph import AgentDeps, build_graph
from agent.model import ChatModel
from agent.state import AgentState, new_turn
from casebank.config import Settings
from serving.config import ServerSettings


def prepare(agent_config: AgentConfig) -> Any:
    def node(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        thread = str((config.get("configurable") or {}).get("thread_id") or "studio")
        safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in thread).lstrip("._-")[:128] or "studio"
        workspace = agent_config.workspaces_dir / safe
        workspace.mkdir(parents=True, exist_ok=True)
        fields = new_turn(safe, "", workspace=str(workspace), timeout_s=agent_config.timeout_for())
        fields.pop("messages")  # the input already appended the user's message
        return fields

    return node


def build_studio_graph(config: AgentConfig, model: ChatModel | None = None, bank: Any = None) -> CompiledStateGraph:
    from agent.model import make_chat_model

    agent = build_graph(AgentDeps(config, model if model is not None else make_chat_model(config), bank))
    graph = StateGraph(AgentState)
    graph.add_node("prepare", prepare(config))
    graph.add_node("agent", agent)
    graph.add_edge(START, "prepare")
    graph.add_edge("prepare", "agent")
    graph.add_edge("agent", END)
    return graph.compile()


def make_graph(config: RunnableConfig | None = None) -> CompiledStateGraph:
    """Graph factory named in langgraph.json: the default profile of ServerSettings over the real bank."""
    from casebank.bank import CaseBank

    settings, bank_settings = ServerSettings(), Settings()
    name = (((config or {}).get("configurable") or {}).get("model")) or next(iter(settings.profiles))
    profile = settings.profiles.get(name) or next(iter(settings.profiles.values()))
    agent_config = AgentConfig.from_settings(
        bank_settings, llm_url=settings.llm_urls[0], model=settings.served_model(profile), api_key=settings.llm_api_key,
        strategy=profile.strategy, k=profile.k, max_steps=settings.max_steps, max_tokens=settings.max_tokens,
    )
    bank = CaseBank(bank_settings) if agent_config.retrieval_enabled or agent_config.write_back else None
    return build_studio_graph(agent_config, bank=bank)
