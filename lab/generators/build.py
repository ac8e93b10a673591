"""Building a task set from the generators (issue 28): walk each split's seeds, drop duplicates, validate, write.

    from lab.generators.build import build, write
    result = build(["bugfix"], levels=[1, 2], splits=["dev", "test"], n=6)
    write(result, Path("out"))        # out/bugfix/g-bugfix-l1-0.yaml ..., out/manifest.json

For each (family, level, split), in that order (families as in `lab.generators.FAMILIES`, levels ascending,
splits as in `SEED_RANGES`), the seeds of the split's range are tried upward from its start until `n` tasks
are kept or `cap` seeds were tried. A task is dropped when it is

- an exact duplicate of a task kept before: the sha256 of its canonical JSON, id and split left out;
- a near duplicate: the cosine of its instruction's embedding (casebank.embedding.Embedder, normalised) to
  a task kept before (any family, any split), to one of the seed specs (seeds.SPECS_DIR) or to one of the
  hand-written ladder (seeds.EVAL_DIR) is at least `casebank.leakage.LEAKAGE_THRESHOLD`.

The kept tasks are then validated (lab.generators.validate.task_problems: the reference replays to a pass,
the untouched workspace fails) on `jobs` threads; an invalid task is a generator defect.

`write` gives one YAML file per task, in the hand-written ladder's style, and `manifest.json` with the
parameters, counts, drops and nearest cosines: no timings or paths, so the same parameters write the same
bytes. Embeddings are computed in fixed chunks of seeds (CHUNK), so the same parameters also embed the
same batches.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from rich.progress import Progress

import seeds
from casebank.embedding import Embedder
from casebank.errors import LabError
from casebank.leakage import LEAKAGE_THRESHOLD
from casebank.tasks import Task, load_tasks
from lab.generators import SEED_RANGES, family_module, generate_task, split_of

__all__ = [
    "CHUNK", "CAP_FACTOR", "BuildError", "BuildResult", "Drop", "GeneratorError", "Nearest", "Reference", "Shortfall", "build",
    "fingerprint", "known_families",
    "manifest_json", "parse_seed_range", "task_yaml", "write",
]

CHUNK = 8  # seeds generated and embedded together
CAP_FACTOR = 50  # seeds tried per group at most: CAP_FACTOR * n
MANIFEST = "manifest.json"
_DEFAULT_TIMEOUT = Task.model_fields["timeout_s"].default


class BuildError(LabError, ValueError):
    """Bad parameters (unknown family, level, split or seed range), or a folder `write` will not write to."""


class GeneratorError(BuildError):
    """A family's `generate` raised: a generator defect, named with its (family, level, seed)."""


@dataclass(frozen=True)
class Drop:
    id: str
    reason: str  # "duplicate of X", "cosine 0.912 to seed X", "cosine 0.85 to ladder task X", "invalid: ..."


@dataclass(frozen=True)
class Nearest:
    task: str
    other: str
    cosine: float

    def as_dict(self) -> dict[str, Any]:
        return {"task": self.task, "other": self.other, "cosine": round(self.cosine, 3)}


@dataclass(frozen=True)
class Shortfall:
    family: str
    level: int
    split: str
    kept: int
    wanted: int
    tried: int

    def __str__(self) -> str:
        return (f"{self.family} level {self.level} {self.split}: kept {self.kept} of {self.wanted} "
                f"after {self.tried} seeds")


@dataclass
class BuildResult:
    params: dict[str, Any]
    tasks: list[Task] = field(default_factory=list)
    drops: list[Drop] = field(default_factory=list)
    shortfalls: list[Shortfall] = field(default_factory=list)
    invalid: dict[str, list[str]] = field(default_factory=dict)  # task id -> problems (validated tasks only)
    nearest_seed: Nearest | None = None  # the kept task closest to a seed spec
    nearest_ladder: Nearest | None = None  # ... to a hand-written ladder task
    nearest_kept: Nearest | None = None  # the closest two kept tasks
    wanted: dict[int, int] = field(default_factory=dict)  # level -> n
    tried: dict[tuple[str, int, str], int] = field(default_factory=dict)  # (family, level, split) -> seeds tried
    validated: bool = False
    generation_s: float = 0.0
    replay_s: float = 0.0

    def counts(self) -> dict[str, dict[str, dict[str, int]]]:
        """family -> level -> split -> kept tasks."""
        out: dict[str, dict[str, dict[str, int]]] = {}
        for t in self.tasks:
            by_split = out.setdefault(t.family, {}).setdefault(str(t.level), {})
            by_split[t.split] = by_split.get(t.split, 0) + 1
        return out

    def manifest(self) -> dict[str, Any]:
        """What manifest.json holds: deterministic in the parameters (no timings, no paths)."""
        return {
            "params": self.params,
            "total": len(self.tasks),
            "by_level": {str(k): v for k, v in sorted(Counter(t.level for t in self.tasks).items())},
            "by_split": dict(sorted(Counter(t.split for t in self.tasks).items())),
            "counts": self.counts(),
            "shortfalls": [str(s) for s in self.shortfalls],
            "nearest": {
                "seed": self.nearest_seed.as_dict() if self.nearest_seed else None,
                "ladder": self.nearest_ladder.as_dict() if self.nearest_ladder else None,
                "kept": self.nearest_kept.as_dict() if self.nearest_kept else None,
            },
            "drops": [{"id": d.id, "reason": d.reason} for d in self.drops],
        }


def fingerprint(task: Task) -> str:
    """sha256 of the task's canonical JSON without id and split: equal for exact duplicates."""
    data = task.model_dump(mode="json", exclude={"id", "split"})
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()


def parse_seed_range(text: str) -> range:
    """'A:B' -> range(A, B) (B excluded), lying inside one split's seed range."""
    try:
        start, stop = (int(part) for part in text.split(":"))
    except ValueError:
        raise BuildError(f"seed range {text!r} is not A:B (two integers, B excluded)") from None
    if not 0 <= start < stop:
        raise BuildError(f"seed range {text!r}: need 0 <= A < B")
    split = next((name for name, r in SEED_RANGES.items() if start in r), None)
    if split is None or stop - 1 not in SEED_RANGES[split]:
        ranges = ", ".join(f"{k} {v.start}:{v.stop}" for k, v in SEED_RANGES.items())
        raise BuildError(f"seed range {text!r} must lie inside one split's range ({ranges})")
    return range(start, stop)


def known_families(families: Sequence[str]) -> list[str]:
    """`families` in lab.generators.FAMILIES order; BuildError naming any without a generator."""
    from lab.generators import FAMILIES

    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        raise BuildError(f"no generator for famil{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}; "
                         f"families: {', '.join(FAMILIES) or '(none)'}")
    return [f for f in FAMILIES if f in set(families)]


_REFERENCE_VECS: dict[tuple[str, tuple[str, ...]], np.ndarray] = {}  # (model path, instructions) -> vectors


class Reference:
    """Instructions embedded once per process (the seed specs, the hand-written ladder, the pool's eval tasks),
    and the nearest of them to a vector."""

    def __init__(self, label: str, tasks: list[Task], embedder: Embedder):
        self.label = label
        self.ids = [t.id for t in tasks]
        key = (embedder.model_path, tuple(t.instruction for t in tasks))
        if key not in _REFERENCE_VECS:
            _REFERENCE_VECS[key] = embedder.embed(list(key[1]))
        self.vecs = _REFERENCE_VECS[key]

    def nearest(self, vec: np.ndarray) -> tuple[str, float]:
        if not self.ids:
            return "", -1.0
        sims = self.vecs @ vec
        i = int(sims.argmax())
        return self.ids[i], float(sims[i])


def build(
    families: Sequence[str],
    levels: Sequence[int] = (1, 2, 3),
    splits: Sequence[str] = ("dev", "test"),
    n: int | Mapping[int, int] = 6,
    *,
    seed_range: range | None = None,
    cap: int | None = None,
    validate: bool = True,
    drop_invalid: bool = False,
    jobs: int = 2,
    embedder: Embedder | None = None,
    seed_tasks: list[Task] | None = None,
    ladder_tasks: list[Task] | None = None,
    progress: Progress | None = None,
) -> BuildResult:
    """Generate, deduplicate and (unless `validate` is False) validate; see the module docstring.

    `n`: tasks kept per (family, level, split), one number or one per level ({1: 6, 2: 6, 3: 4}).
    `seed_range` replaces `splits`: the seeds walked are that range (it lies inside one split's). `cap`:
    seeds tried per (family, level, split) at most, default CAP_FACTOR * n of the level. Invalid tasks stay in `tasks`
    and are listed in `invalid`, unless `drop_invalid`: then they are dropped (reason "invalid: ...")."""
    fams = known_families(families)
    if not fams:
        raise BuildError("no family given")
    lvls = sorted(set(levels))
    wanted = {lv: n if isinstance(n, int) else n.get(lv, 0) for lv in lvls}
    if bad := {lv: k for lv, k in wanted.items() if k < 1}:
        raise BuildError(f"n must be at least 1 for every level built, not {bad}")
    for family in fams:
        bad = [lv for lv in lvls if lv not in family_module(family).LEVELS]
        if bad:
            raise BuildError(f"family {family} draws levels {tuple(family_module(family).LEVELS)}, not {bad}")
    if seed_range is not None:
        walks = [(split_of(seed_range.start), seed_range)]
    else:
        unknown = [s for s in splits if s not in SEED_RANGES]
        if unknown or not splits:
            raise BuildError(f"unknown split(s) {unknown}; splits: {', '.join(SEED_RANGES)}")
        walks = [(s, SEED_RANGES[s]) for s in SEED_RANGES if s in set(splits)]
    caps = {lv: cap if cap is not None else CAP_FACTOR * wanted[lv] for lv in lvls}
    embedder = embedder or Embedder()
    params: dict[str, Any] = {
        "families": fams,
        "levels": lvls,
        **({"seed_range": f"{seed_range.start}:{seed_range.stop}"} if seed_range is not None
           else {"splits": [s for s, _ in walks]}),
        "n": wanted[lvls[0]] if len(set(wanted.values())) == 1 else {str(lv): k for lv, k in wanted.items()},
        "cap": caps[lvls[0]] if len(set(caps.values())) == 1 else {str(lv): k for lv, k in caps.items()},
        "threshold": LEAKAGE_THRESHOLD,
        "embedder": "/".join(Path(embedder.model_path).parts[-2:]),
        "chunk": CHUNK,
    }
    result = BuildResult(params=params, wanted=wanted)
    started = time.perf_counter()
    refs = [
        ("seed", Reference("seed", seed_tasks if seed_tasks is not None else load_tasks(seeds.SPECS_DIR), embedder)),
        ("ladder task", Reference("ladder task", ladder_tasks if ladder_tasks is not None else load_tasks(seeds.EVAL_DIR), embedder)),
    ]
    kept_vecs = np.zeros((0, embedder.dimension), dtype=np.float32)
    kept_ids: list[str] = []
    kept_prints: dict[str, str] = {}  # fingerprint -> id
    best: dict[str, Nearest | None] = {"seed": None, "ladder task": None, "kept": None}
    bar = progress.add_task("generating", total=len(fams) * len(walks) * sum(wanted.values())) if progress else None

    for family in fams:
        for level in lvls:
            for split, seeds_range in walks:
                kept = tried = 0
                n_want, cap_here = wanted[level], caps[level]
                seeds_iter = iter(seeds_range)
                while kept < n_want and tried < cap_here:
                    chunk = [s for _, s in zip(range(CHUNK), seeds_iter)]
                    if not chunk:
                        break
                    tasks = []
                    for seed in chunk:
                        try:
                            tasks.append(generate_task(family, level, seed))
                        except Exception as e:  # noqa: BLE001: a generator defect, named with its seed
                            raise GeneratorError(f"generate_task({family!r}, {level}, {seed}) raised {e!r}") from e
                    vecs = embedder.embed([t.instruction for t in tasks])
                    for task, vec in zip(tasks, vecs):
                        if kept >= n_want or tried >= cap_here:
                            break
                        tried += 1
                        near = _nearest(vec, kept_ids, kept_vecs, refs)
                        reason = _drop_reason(task, near, kept_prints)
                        if reason:
                            result.drops.append(Drop(task.id, reason))
                            continue
                        for label, (other, cos) in near.items():
                            if best[label] is None or cos > best[label].cosine:
                                best[label] = Nearest(task.id, other, cos)
                        kept_prints[fingerprint(task)] = task.id
                        kept_ids.append(task.id)
                        kept_vecs = np.vstack([kept_vecs, vec[None, :]])
                        result.tasks.append(task)
                        kept += 1
                        if progress is not None:
                            progress.advance(bar)
                result.tried[family, level, split] = tried
                if kept < n_want:
                    result.shortfalls.append(Shortfall(family, level, split, kept, n_want, tried))
                    if progress is not None:
                        progress.advance(bar, n_want - kept)
    result.nearest_seed, result.nearest_ladder, result.nearest_kept = best["seed"], best["ladder task"], best["kept"]
    result.generation_s = time.perf_counter() - started

    if validate:
        _validate(result, jobs, drop_invalid, progress)
    return result


def _nearest(vec: np.ndarray, kept_ids: list[str], kept_vecs: np.ndarray,
             refs: list[tuple[str, Reference]]) -> dict[str, tuple[str, float]]:
    """label ("kept", "seed", "ladder task") -> (the nearest task's id, its cosine to `vec`), in that order;
    a label without tasks is left out."""
    near: dict[str, tuple[str, float]] = {}
    if kept_ids:
        sims = kept_vecs @ vec
        i = int(sims.argmax())
        near["kept"] = (kept_ids[i], float(sims[i]))
    for label, ref in refs:
        other, cos = ref.nearest(vec)
        if other:
            near[label] = (other, cos)
    return near


def _drop_reason(task: Task, near: dict[str, tuple[str, float]], prints: dict[str, str]) -> str | None:
    if (same := prints.get(fingerprint(task))) is not None:
        return f"duplicate of {same}"
    if near:  # the first of the nearest, in _nearest's order, at the highest cosine
        label, (other, cos) = max(near.items(), key=lambda item: item[1][1])
        if cos >= LEAKAGE_THRESHOLD:
            return f"cosine {cos:.3f} to {other if label == 'kept' else f'{label} {other}'}"
    return None


def _validate(result: BuildResult, jobs: int, drop_invalid: bool, progress: Progress | None) -> None:
    from lab.generators.validate import task_problems

    started = time.perf_counter()
    bar = progress.add_task("replaying", total=len(result.tasks)) if progress else None

    def check(task: Task) -> list[str]:
        try:
            problems = task_problems(task)
        except Exception as e:  # noqa: BLE001: a task the sandbox cannot even run is invalid, not a crash
            problems = [f"{task.id}: validation raised {e!r}"]
        if progress is not None:
            progress.advance(bar)
        return problems

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        outcomes = list(pool.map(check, result.tasks))
    result.invalid = {t.id: problems for t, problems in zip(result.tasks, outcomes) if problems}
    result.validated = True
    if drop_invalid and result.invalid:
        dropped = [t for t in result.tasks if t.id in result.invalid]
        for t in dropped:
            result.drops.append(Drop(t.id, "invalid: " + "; ".join(result.invalid[t.id])[:300]))
        result.tasks = [t for t in result.tasks if t.id not in result.invalid]
        groups = Counter((t.family, t.level, t.split) for t in result.tasks)
        short = {(s.family, s.level, s.split): i for i, s in enumerate(result.shortfalls)}
        for t in dropped:
            key = (t.family, t.level, t.split)
            shortfall = Shortfall(*key, groups[key], result.wanted[t.level], result.tried[key])
            if key in short:
                result.shortfalls[short[key]] = shortfall
            else:
                short[key] = len(result.shortfalls)
                result.shortfalls.append(shortfall)
    result.replay_s = time.perf_counter() - started


# --- YAML in the hand-written ladder's style ------------------------------------------------------------

class _Literal(str):
    """A multi-line string: a `|` block scalar."""


class _Flow(dict):
    """A mapping written on one line: {path: x.py}."""


class _FlowList(list):
    """A list written on one line: [python, csv]."""


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)  # "steps:\n  - thought: ...", as the hand-written files


_Dumper.add_representer(_Literal, lambda d, s: d.represent_scalar("tag:yaml.org,2002:str", str(s), style="|"))
_Dumper.add_representer(_Flow, lambda d, m: d.represent_mapping("tag:yaml.org,2002:map", dict(m), flow_style=True))
_Dumper.add_representer(_FlowList, lambda d, x: d.represent_sequence("tag:yaml.org,2002:seq", list(x), flow_style=True))


def _text(value: Any) -> Any:
    return _Literal(value) if isinstance(value, str) and "\n" in value else value


def _args(args: dict[str, Any]) -> Any:
    one_line = all(isinstance(v, (int, float, bool)) or (isinstance(v, str) and "\n" not in v) for v in args.values())
    if one_line and sum(len(str(k)) + len(str(v)) + 4 for k, v in args.items()) <= 110:
        return _Flow(args)
    return {k: _text(v) for k, v in args.items()}


def task_yaml(task: Task) -> str:
    """The task as YAML: keys in the hand-written ladder's order, block scalars for multi-line strings."""
    doc: dict[str, Any] = {"id": task.id, "family": task.family, "split": task.split, "level": task.level,
                           "tags": _FlowList(task.tags), "instruction": _text(task.instruction),
                           "files": {path: _text(text) for path, text in task.files.items()},
                           "check": _text(task.check)}
    if task.timeout_s != _DEFAULT_TIMEOUT:
        doc["timeout_s"] = task.timeout_s
    steps = []
    for s in task.steps:
        step: dict[str, Any] = {}
        if s.thought:
            step["thought"] = _text(s.thought)
        step["tool"] = s.tool
        step["args"] = _args(s.args)
        if s.expect_error:
            step["expect_error"] = True
        steps.append(step)
    doc["steps"] = steps
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1_000_000, indent=2)


def manifest_json(result: BuildResult) -> str:
    """manifest.json's text: one line per family count, drop and nearest pair, so that a diff reads well."""
    def one(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False)

    items = list(result.manifest().items())
    lines = ["{"]
    for i, (key, value) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        if isinstance(value, dict) and value and key in ("counts", "nearest"):
            body = ",\n".join(f"    {one(k)}: {one(v)}" for k, v in value.items())
            lines.append(f"  {one(key)}: {{\n{body}\n  }}{comma}")
        elif isinstance(value, list) and value:
            body = ",\n".join(f"    {one(v)}" for v in value)
            lines.append(f"  {one(key)}: [\n{body}\n  ]{comma}")
        else:
            lines.append(f"  {one(key)}: {one(value)}{comma}")
    return "\n".join([*lines, "}"]) + "\n"


def _is_generated_dir(out: Path) -> bool:
    """Empty, missing, or written by `write` before (it has a manifest)."""
    return not out.exists() or (out / MANIFEST).is_file() or not any(out.iterdir())


def write(result: BuildResult, out: Path) -> list[Path]:
    """Write OUT/<family>/<id>.yaml and OUT/manifest.json, replacing what an earlier `write` left there, then
    check that load_tasks(OUT) gives back exactly the built tasks. Refuses a folder it did not write."""
    out = Path(out)
    if not _is_generated_dir(out):
        raise BuildError(f"{out} is not empty and has no {MANIFEST}: not a generated task folder; refusing to write there")
    out.mkdir(parents=True, exist_ok=True)
    for old in sorted(out.iterdir()):
        if old.is_dir():
            shutil.rmtree(old)
        elif old.name == MANIFEST:
            old.unlink()
    written = []
    for task in result.tasks:
        path = out / task.family / f"{task.id}.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(task_yaml(task), encoding="utf-8")
        written.append(path)
    (out / MANIFEST).write_text(manifest_json(result), encoding="utf-8")
    loaded = {t.id: t for t in load_tasks(out)}
    built = {t.id: t for t in result.tasks}
    if sorted(loaded) != sorted(built):
        raise BuildError(f"{out}: loaded task ids differ from the built ones: {sorted(set(loaded) ^ set(built))[:5]}")
    differ = [i for i in built if loaded[i].model_dump() != built[i].model_dump()]
    if differ:
        raise BuildError(f"{out}: tasks do not load back equal to the generated ones: {differ[:5]}")
    return written
