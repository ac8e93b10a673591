"""casebank: curated demonstrations as retrievable cases for agentic LLMs.

Importing it sets nothing: what the libraries it starts must read (no model-hub downloads, no telemetry) is
set where they start, by casebank.envs.offline_libraries()."""

__version__ = "0.1.0"
