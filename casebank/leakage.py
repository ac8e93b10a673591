"""Leakage between evaluation tasks and seeds: each eval task's nearest seed by embedding similarity."""

from __future__ import annotations

from dataclasses import dataclass

from casebank.embedding import Embedder
from casebank.tasks import Task

# An eval task whose instruction is this close to a seed's is a paraphrase, not a new instance.
# Measured with MiniLM: six hand-written rewordings of seed instructions score 0.85-0.95 against
# their seed (tests/test_seeds.py), while new tasks of the same family (other code, other data)
# stay below 0.7. 0.8 sits in that gap.
LEAKAGE_THRESHOLD = 0.8


@dataclass(frozen=True)
class NearestSeed:
    eval_id: str
    seed_id: str
    similarity: float


def nearest_seeds(eval_tasks: list[Task], seed_tasks: list[Task], embedder: Embedder | None = None) -> list[NearestSeed]:
    embedder = embedder or Embedder()
    eval_vecs = embedder.embed([t.instruction for t in eval_tasks])
    seed_vecs = embedder.embed([t.instruction for t in seed_tasks])
    similarity = eval_vecs @ seed_vecs.T
    return [
        NearestSeed(task.id, seed_tasks[int(row.argmax())].id, float(row.max()))
        for task, row in zip(eval_tasks, similarity)
    ]
