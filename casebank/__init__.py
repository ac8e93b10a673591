"""casebank: curated demonstrations as retrievable cases for agentic LLMs."""

import os

# Nothing in casebank may download from a model hub at run time: weights come from local packages.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

__version__ = "0.1.0"
