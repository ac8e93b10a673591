"""`make bench` (`python -m benchmarks.bench`): the case bank at 78 to 100k cases, the embedder, the agent's
own overhead, the LLM's decode speed and the server mode, measured side by side in one run.

Modules: `synth` (reproducible synthetic cases and their cached embeddings), `banks` (one bank size,
embedded and on a Chroma server, in a child process), `embedder`, `agent_overhead`, `llm`, `services`
(Chroma server, Postgres, the scripted LLM, API replicas), `report` (ratios, targets, table, JSON, PNG).
"""
