"""Task families as generators (issue 28): each family is a module that draws a whole task from a seeded
random source, so the eval ladder gets volume without hand-writing.

    from lab.generators import generate_task, FAMILIES, SEED_RANGES
    task = generate_task("bugfix", level=2, seed=100_007)        # split "test": the seed lies in the test range

A family module lives in `lab/generators/families/<name>.py` (the file name with `_` for `-`; a module whose
name starts with `_` is a shared helper, not a family) and defines

    FAMILY = "bugfix"                      # the family name, as in the hand-written ladder
    LEVELS = (1, 2, 3)                     # the levels it can draw
    def generate(rng: random.Random, level: int) -> TaskDraft: ...

`generate` uses only `rng` for its choices (never `random` itself, the clock or the environment), so the
same (family, level, seed) gives the same task byte for byte. A draft is a task without id and split: the
id is `g-<family>-l<level>-<seed>` and the split comes from the seed's range (SEED_RANGES). Everything else
is the task format of casebank.tasks: files, instruction, a hidden checker, and `steps`, the scripted
reference solution that the sandbox replays (lab.generators.validate: the reference must pass, the untouched
workspace must fail).

The seed ranges are disjoint and fixed: `dev` and `test` make the generated held-out ladder; `pool` feeds
the curation-vs-volume pool (issue 30) and is never evaluated on.
"""

from __future__ import annotations

import importlib
import pkgutil
import random
from functools import cache
from types import ModuleType
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from casebank.tasks import Step, Task

__all__ = ["FAMILIES", "SEED_RANGES", "TaskDraft", "family_module", "generate_task", "split_of", "task_id"]

# seed -> split; half-open ranges, disjoint (tests/test_generators.py checks it).
SEED_RANGES: dict[str, range] = {
    "dev": range(0, 100_000),
    "test": range(100_000, 200_000),
    "pool": range(1_000_000, 10_000_000),
}


class TaskDraft(BaseModel):
    """What a family's `generate` returns: a task but its id and split, which the seed decides."""

    model_config = ConfigDict(extra="forbid")

    instruction: str = Field(min_length=1)
    files: dict[str, str] = Field(default_factory=dict)
    check: str = Field(min_length=1)
    steps: list[Step] = Field(min_length=1)
    tags: list[str] = Field(default_factory=list)
    timeout_s: float = 120.0


def split_of(seed: int) -> str:
    for name, seeds in SEED_RANGES.items():
        if seed in seeds:
            return name
    raise ValueError(f"seed {seed} lies in no seed range ({', '.join(f'{k} {v.start}-{v.stop - 1}' for k, v in SEED_RANGES.items())})")


def task_id(family: str, level: int, seed: int) -> str:
    return f"g-{family}-l{level}-{seed}"


@cache
def _modules() -> dict[str, ModuleType]:
    from lab.generators import families

    found: dict[str, ModuleType] = {}
    for info in pkgutil.iter_modules(families.__path__):
        if info.name.startswith("_"):  # shared helpers of the family modules
            continue
        module = importlib.import_module(f"{families.__name__}.{info.name}")
        found[module.FAMILY] = module
    return dict(sorted(found.items()))


def family_module(family: str) -> ModuleType:
    try:
        return _modules()[family]
    except KeyError:
        raise ValueError(f"no generator for family {family!r}; families: {', '.join(_modules())}") from None


def __getattr__(name: str) -> Any:  # FAMILIES: read lazily, the family modules import on first use
    if name == "FAMILIES":
        return tuple(_modules())
    raise AttributeError(name)


def generate_task(family: str, level: int, seed: int) -> Task:
    """The task of (family, level, seed): deterministic, its split from the seed's range."""
    module = family_module(family)
    if level not in module.LEVELS:
        raise ValueError(f"family {family!r} draws levels {module.LEVELS}, not {level}")
    rng = random.Random(f"{family}:{level}:{seed}")  # a str seed hashes (sha512): stable across runs and machines
    draft = module.generate(rng, level)
    return Task(id=task_id(family, level, seed), family=family, split=split_of(seed), level=level,
                **draft.model_dump())
