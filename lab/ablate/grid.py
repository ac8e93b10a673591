"""The grid of an ablation: `AblationConfig` (one cell) and `AblationGrid` (a YAML file plus CLI flags).

    baseline: none                # the config the paired differences are taken against
    broken_world_after: 8         # stop if the first 8 episodes all fail the same way (0: never)
    repeats: 1                    # episodes per (config, task); repeat r samples with seed `seed + r`
    seed: 0
    tasks: null                   # a task dir or file; null: the bundled held-out ladder
    filters: {split: [dev], level: [1, 2], family: []}
    defaults:                     # merged under every config
      model: qwen2.5-coder-0.5b-instruct
      temperature: 0.0
      harness: {workspace_context: true}
    configs:                      # explicit configs ...
      - {name: none, strategy: none, k: 0}
      - {name: hybrid-k4, strategy: hybrid, k: 4}
    axes:                         # ... and/or the product of these axes over `defaults`
      strategy: [dense, bm25]
      k: [2, 4]

CLI flags given more than once (or once) replace the file's axis of that name, e.g.
`--strategy dense --strategy bm25 --k 2 --k 4` runs the 2x2 product. A config's identity is the hash of
its content (not its name), so renaming a config does not rerun it and two configs that are the same are
run once.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.config import DEFAULT_MODEL
from agent.harness import Harness
from casebank.casefile import field_of
from casebank.config import Strategy
from casebank.tasks import TaskFileError

WriteBack = Literal["off", "online"]


# Harness levers added after runs were recorded, each with the value that behaves as the agent did before it
# existed: at that value it is left out of a config's hash, so a run recorded before the lever existed keeps its
# hashes (and resumes). A lever whose default later changes still hashes its new default apart from those runs.
ADDED_LATER = {"error_guard": False, "drop_unknown_args": False, "restate_task": False, "copy_guard_short": False, "output_gate": False}


class AblationConfig(BaseModel):
    """One cell of the grid: everything that differs between two arms of an ablation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = ""  # default: derived from the fields that differ from the defaults
    model: str = DEFAULT_MODEL  # the served model name (a LoRA adapter's name works too)
    strategy: Strategy = "dense"
    k: int = Field(4, ge=0, le=50)
    case_token_budget: int = Field(2500, ge=0, description="Approx. tokens (chars/4) of the rendered cases.")
    temperature: float = Field(0.0, ge=0, le=2)
    max_steps: int = Field(12, ge=1, le=100)
    token_budget: int = Field(120_000, gt=0)
    write_back: WriteBack = "off"  # off: a bank nothing writes; online: this config's own copy, written back
    seed_subset: int | None = Field(None, ge=1, description="Bank built from this many seeds (fixed random subset).")
    harness: Harness = Field(default_factory=Harness)

    @property
    def content_hash(self) -> str:
        data = self.model_dump(mode="json", exclude={"name"})
        for key, before in ADDED_LATER.items():  # as before they existed: the hash is as it was then
            if data["harness"].get(key) == before:
                del data["harness"][key]
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]

    def with_default_name(self, defaults: dict[str, Any]) -> AblationConfig:
        if self.name:
            return self
        parts = [self.strategy if self.k else "none"]
        if self.k:
            parts.append(f"k{self.k}")
        data = self.model_dump(mode="json")
        for key in ("model", "temperature", "max_steps", "write_back", "seed_subset"):
            if key in defaults and data[key] != defaults[key]:
                parts.append(f"{key}={data[key]}")
        for key, value in data["harness"].items():
            if value != Harness().model_dump(mode="json")[key] and value != defaults.get("harness", {}).get(key, value):
                parts.append(f"{key}={value}")
        return self.model_copy(update={"name": "-".join(str(p) for p in parts)})


class TaskFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    split: list[str] = Field(default_factory=list)  # empty: every split
    level: list[int] = Field(default_factory=list)
    family: list[str] = Field(default_factory=list)
    ids: list[str] = Field(default_factory=list)

    def keep(self, task: Any) -> bool:
        return (
            (not self.split or task.split in self.split)
            and (not self.level or task.level in self.level)
            and (not self.family or task.family in self.family)
            and (not self.ids or task.id in self.ids)
        )


class AblationGrid(BaseModel):
    model_config = ConfigDict(extra="forbid")

    baseline: str | None = None
    repeats: int = Field(1, ge=1, le=100)
    seed: int = 0
    tasks: Path | None = None
    filters: TaskFilters = Field(default_factory=TaskFilters)
    defaults: dict[str, Any] = Field(default_factory=dict)
    configs: list[dict[str, Any]] = Field(default_factory=list)
    axes: dict[str, list[Any]] = Field(default_factory=dict)
    # Stop when the first this-many finished episodes of an invocation all fail the same way (runner.broken_world);
    # 0: never. How a run is watched, not what it measures: left out of the run's identity.
    broken_world_after: int = Field(8, ge=0)
    # Run only the configs of these names (a half of a grid whose other models are not served yet); the others
    # keep their episodes in the run dir. Also left out of the identity: the run dir is the whole grid's.
    only: list[str] = Field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> AblationGrid:
        """A grid file; errors name file, line and field."""
        text = path.read_text(encoding="utf-8")
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            raise TaskFileError(path, (mark.line + 1) if mark else 1, "<yaml>", str(getattr(e, "problem", e))) from None
        lines = text.splitlines()
        try:
            grid = cls.model_validate(data)
        except ValidationError as e:
            field, problem = field_of(e)
            top = field.split(".")[0]
            raise TaskFileError(path, _line_of(lines, top), field, problem) from None
        for i, cell in enumerate(grid.configs):  # each config must validate on its own, over the defaults
            try:
                AblationConfig.model_validate(_merge(grid.defaults, cell))
            except ValidationError as e:
                field, problem = field_of(e)
                raise TaskFileError(path, _item_line(lines, "configs", i, field), f"configs.{i}.{field}", problem) from None
        grid.expand()
        return grid

    def with_axes(self, **axes: list[Any] | None) -> AblationGrid:
        """CLI flags: a non-empty list replaces that axis; explicit configs get the axis value too."""
        given = {key: values for key, values in axes.items() if values}
        return self.model_copy(update={"axes": {**self.axes, **given}})

    def expand(self) -> list[AblationConfig]:
        """The grid's configs, in order, without duplicates (by content)."""
        defaults = dict(self.defaults)
        cells: list[dict[str, Any]] = []
        bases = self.configs or [{}]
        if self.axes:
            keys = list(self.axes)
            for base in bases:
                for values in itertools.product(*(self.axes[k] for k in keys)):
                    # a crossed config is named by its content (the explicit name would be shared)
                    cells.append({**base, **dict(zip(keys, values)), "name": ""})
        else:
            cells = [dict(c) for c in bases] if self.configs else [{"strategy": "none", "k": 0}, {}]
        configs: list[AblationConfig] = []
        seen: set[str] = set()
        for cell in cells:
            merged = _merge(defaults, cell)
            if merged.get("strategy") == "none":
                merged["k"] = 0
            config = AblationConfig.model_validate(merged).with_default_name(defaults)
            if config.content_hash not in seen:
                seen.add(config.content_hash)
                configs.append(config)
        names = [c.name for c in configs]
        if len(set(names)) != len(names):
            raise ValueError(f"two configs share a name: {sorted(n for n in names if names.count(n) > 1)}")
        if self.baseline is not None and self.baseline not in names:
            raise ValueError(f"baseline {self.baseline!r} is not a config of the grid ({', '.join(names)})")
        if unknown := sorted(set(self.only) - set(names)):
            raise ValueError(f"--only {', '.join(unknown)}: not a config of the grid ({', '.join(names)})")
        return [c for c in configs if c.name in self.only] if self.only else configs


def _line_of(lines: list[str], top: str) -> int:
    return next((n for n, s in enumerate(lines, 1) if s.startswith(f"{top}:")), 1)


def _item_line(lines: list[str], top: str, index: int, field: str) -> int:
    """Best effort: the line of `field` inside the index-th list item under `top:`."""
    start = _line_of(lines, top)
    items = [n for n, s in enumerate(lines, 1) if n > start and s.lstrip().startswith("- ")]
    if index >= len(items):
        return start
    end = items[index + 1] if index + 1 < len(items) else len(lines) + 1
    leaf = field.split(".")[-1]
    return next((n for n in range(items[index], end) if f"{leaf}:" in lines[n - 1]), items[index])


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        elif key.startswith("harness."):
            out.setdefault("harness", {})
            out["harness"] = {**out["harness"], key.removeprefix("harness."): value}
        else:
            out[key] = value
    return out
