"""The curation methods: each takes a `Pick` (the cases, N, the seed and what the method reads) and returns N
cases in the order they are written.

    from lab.curate.methods import curate
    chosen = curate(cases, n=78, method="coverage", seed=0)

The seeded order of a pool is casefile.fixed_subset's: the cases sorted by id, shuffled with the seed. `random`
takes its first N; every other method breaks its ties by it, so each is deterministic by seed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from casebank.casefile import fixed_subset
from casebank.demos import recoveries
from casebank.errors import LabError
from casebank.models import Case, Usage

if TYPE_CHECKING:  # the embedder (torch, Chroma) loads only for `diverse`: `casebank --help` reads METHODS
    from casebank.embedding import Embedder

__all__ = ["METHODS", "CurateError", "Pick", "curate", "describe", "group_of", "usage_counters"]


class CurateError(LabError, ValueError):
    """A pick that cannot be made: N larger than the pool, an unknown method, no usage counters for `utility`."""


@dataclass(frozen=True)
class Pick:
    cases: list[Case]
    n: int
    seed: int = 0
    usage: dict[str, Usage] | None = None  # utility: counters by case id
    embedder: Embedder | None = None  # diverse: default casebank.embedding.Embedder()

    def seeded(self) -> list[Case]:
        return fixed_subset(self.cases, len(self.cases), self.seed)


def group_of(case: Case) -> tuple[str, int]:
    """(family, level): the level from the pool's provenance, 0 for a case without one."""
    return case.family, int(case.metadata.get("provenance", {}).get("level", 0))


def random(pick: Pick) -> list[Case]:
    """A fixed random subset: the first N of the seeded order (casefile.fixed_subset, as an ablation's seed_subset)."""
    return fixed_subset(pick.cases, pick.n, pick.seed)


def coverage(pick: Pick) -> list[Case]:
    """Round-robin over family x level: one case of each (family, level) group in sorted order, round after round,
    each group's cases in the seeded order."""
    groups: dict[tuple[str, int], list[Case]] = defaultdict(list)
    for case in pick.seeded():
        groups[group_of(case)].append(case)
    rounds = max(len(g) for g in groups.values())
    chosen = [groups[key][r] for r in range(rounds) for key in sorted(groups) if r < len(groups[key])]
    return chosen[:pick.n]


def diverse(pick: Pick) -> list[Case]:
    """Greedy k-center on the task embeddings: the seeded order's first case, then each time the case whose cosine
    distance to the nearest case already chosen is largest."""
    import numpy as np

    from casebank.embedding import Embedder

    order = pick.seeded()
    vecs = (pick.embedder or Embedder()).embed([c.task for c in order])
    chosen = [0]
    distance = 1.0 - vecs @ vecs[0]
    distance[0] = -np.inf
    while len(chosen) < pick.n:
        i = int(np.argmax(distance))  # the first of equals: ties go by the seeded order
        chosen.append(i)
        distance = np.minimum(distance, 1.0 - vecs @ vecs[i])
        distance[chosen] = -np.inf
    return [order[i] for i in chosen]


def hard(pick: Pick) -> list[Case]:
    """The most recoveries (failed tool observations, a non-zero exit, a time-out or an `error:` reply, that a
    later `exit code: 0` run gets past; casebank.demos.recoveries), then the most steps."""
    return sorted(pick.seeded(), key=lambda c: (-recoveries(c), -c.stats.steps))[:pick.n]


def utility(pick: Pick) -> list[Case]:
    """The cases an earlier online run retrieved into the most successful episodes (usage.retrieved_in_success),
    then those retrieved into the fewest failed ones; needs that run's usage counters."""
    if not pick.usage:
        raise CurateError("method utility needs usage counters: give --usage EXPORT (`casebank export` of an online "
                          "run's bank); the pool's own cases have none")
    counters = pick.usage

    def rank(case: Case) -> tuple[int, int]:
        used = counters.get(case.id, Usage())
        return -used.retrieved_in_success, used.retrieved - used.retrieved_in_success

    return sorted(pick.seeded(), key=rank)[:pick.n]


def human(pick: Pick) -> list[Case]:
    """The hand-curated seeds (seeds/seeds.jsonl) as they are; N below their count takes the fixed random subset
    an ablation's seed_subset: N takes."""
    return list(pick.cases) if pick.n == len(pick.cases) else random(pick)


METHODS: dict[str, Callable[[Pick], list[Case]]] = {
    "random": random, "coverage": coverage, "diverse": diverse, "hard": hard, "utility": utility, "human": human,
}


def describe(method: str) -> str:
    """The method's docstring, on one line."""
    return " ".join((METHODS[method].__doc__ or "").split())


def usage_counters(cases: list[Case]) -> dict[str, Usage]:
    """Usage counters by case id, from a bank's export; a merged case's counters count for the ids it absorbed."""
    counters: dict[str, Usage] = {}
    for case in cases:
        if case.usage.retrieved or case.usage.retrieved_in_success:
            for cid in (case.id, *case.merged_from):
                counters[cid] = case.usage
    return counters


def curate(cases: list[Case], n: int, method: str, seed: int = 0, *, usage: dict[str, Usage] | None = None,
           embedder: Embedder | None = None) -> list[Case]:
    """N of `cases` by `method` (see METHODS), deterministic by seed."""
    if method not in METHODS:
        raise CurateError(f"unknown method {method!r}; methods: {', '.join(METHODS)}")
    if n < 1:
        raise CurateError(f"--n must be at least 1, not {n}")
    if n > len(cases):
        raise CurateError(f"the pool has {len(cases)} cases, fewer than --n {n}")
    return METHODS[method](Pick(cases, n, seed, usage, embedder))
