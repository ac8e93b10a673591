"""Building the pool: verified trajectories from the generators' `pool` seeds, leak-free, resumable.

    from lab.pool.build import build_pool
    manifest = build_pool(Path(".casebank/pool"), n=10_000, jobs=2)    # DIR/pool.jsonl and DIR/manifest.json

Order. The groups are the (family, level) pairs built (families in lab.generators.FAMILIES order), ordered by
diagonal: diagonal d holds family i at the level with index (i + d) mod L, so every F groups in a row cover
every family and spread the levels. Position j of the pool takes the next case of the next group, round-robin;
each group walks its own seeds upward from `seed_start`. A candidate (family, level, seed) is dropped, checks in
this order, when

- its generator raises (kind `generator`);
- it is a twin of an eval task: the same family, level and drawn content, i.e. the same
  lab.generators.build.fingerprint (the task without id and split) (`twin`);
- it duplicates a case its group kept before: the same fingerprint (`duplicate`);
- its instruction's embedding cosine to the nearest eval task is `threshold` or more (`near`);
- its reference, replayed in the sandbox (lab.generators.validate.validate), fails the checker, or the untouched
  workspace passes it (`unverified`).

The eval tasks are the generated ladder (seeds.GENERATED_DIR) and the hand-written ladder (seeds.EVAL_DIR). A
group that drops `patience` candidates in a row has run out of distinct tasks (some families draw fewer than 100
at a level): it leaves the round-robin (manifest `exhausted`), and the other groups fill the positions.

A kept case is the replay's case (real tool outputs, success verified by the checker) with `source: pool` and
`metadata.provenance`: generator, level, seed, task id, fingerprint. Each decision depends only on the candidate
and its group's earlier cases (instructions are embedded one at a time, never in a batch whose make-up could
vary), so the same parameters give the same bytes, and a larger n's pool.jsonl starts with a smaller n's. Cases
are appended in chunks of `chunk` positions; after each, manifest.json records pool.jsonl's length, the cases,
each group's next seed and the drops, so a killed build, run again, cuts pool.jsonl back to what the manifest
covers and goes on from there. The chunk size decides only how much a kill loses, never the bytes.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

import seeds
from casebank.casefile import load_cases, write_cases
from casebank.embedding import Embedder
from casebank.errors import LabError
from casebank.leakage import LEAKAGE_THRESHOLD
from casebank.models import Case
from casebank.tasks import Task, load_tasks
from lab.generators import SEED_RANGES, family_module, generate_task, task_id
from lab.generators.build import BuildError, Reference, fingerprint, known_families
from lab.generators.validate import validate

__all__ = [
    "CHUNK", "MANIFEST", "PATIENCE", "POOL_FILE", "POOL_SEEDS", "NearestEval", "PoolDrop", "PoolError", "PoolManifest",
    "PoolParams", "PoolRun", "build_pool", "eval_tasks", "group_order", "open_pool", "pool_file",
]

POOL_FILE = "pool.jsonl"
MANIFEST = "manifest.json"
_CHUNK_FILE = "chunk.jsonl"  # a chunk's lines, written by casefile.write_cases, then appended to POOL_FILE
CHUNK = 64  # positions per append: what a kill can lose
PATIENCE = 1000  # drops in a row after which a group has run out of distinct tasks
POOL_SEEDS = SEED_RANGES["pool"]
DropKind = Literal["generator", "twin", "duplicate", "near", "unverified"]
Generate = Callable[[str, int, int], Task]
OnProgress = Callable[[int, int], None]  # (cases in the pool, drops in this build)


class PoolError(LabError, ValueError):
    """Bad parameters, or a folder that holds something other than this pool."""


class PoolParams(BaseModel):
    """What decides the pool's bytes: a folder resumes only under the same."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    families: list[str]
    levels: list[int]
    seed_start: int
    threshold: float
    patience: int
    embedder: str
    eval_tasks: int
    eval_sha256: str  # of the eval tasks' ids and fingerprints


class PoolDrop(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    task: str
    kind: DropKind
    reason: str


class NearestEval(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    task: str
    eval_task: str
    cosine: float


class PoolManifest(BaseModel):
    """DIR/manifest.json: the state after the last chunk appended, which pool.jsonl's first `bytes` bytes hold."""

    model_config = ConfigDict(extra="forbid")

    params: PoolParams
    cases: int = 0
    bytes: int = 0
    next_group: int = 0  # the index, in group_order, of the group the next position asks
    cursors: dict[str, int] = Field(default_factory=dict)  # "family:level" -> the next seed it tries
    exhausted: dict[str, int] = Field(default_factory=dict)  # "family:level" -> the cases it gave before it ran out
    dropped: dict[str, int] = Field(default_factory=dict)  # kind -> candidates dropped
    drops: list[PoolDrop] = Field(default_factory=list)  # every drop but duplicates, which are only counted
    nearest: NearestEval | None = None  # the kept case closest to an eval task


def pool_file(path: Path) -> Path:
    """A pool folder's case file, or `path` itself when it is a file."""
    return path / POOL_FILE if path.is_dir() else path


def eval_tasks(dirs: Sequence[Path] = ()) -> list[Task]:
    """The tasks the pool must not leak: `dirs`, by default the generated and the hand-written ladder."""
    return [t for d in (dirs or (seeds.GENERATED_DIR, seeds.EVAL_DIR)) for t in load_tasks(d)]


def group_order(families: Sequence[str], levels: Sequence[int]) -> list[tuple[str, int]]:
    """The (family, level) groups, diagonally ordered (see the module docstring); a family's missing levels are
    left out."""
    lvls = sorted(set(levels))
    pairs = [(fi, li, f, lv) for fi, f in enumerate(families) for li, lv in enumerate(lvls) if lv in family_module(f).LEVELS]
    pairs.sort(key=lambda p: ((p[1] - p[0]) % len(lvls), p[0]))
    return [(f, lv) for _, _, f, lv in pairs]


def _key(family: str, level: int) -> str:
    return f"{family}:{level}"


# ---- one candidate ---------------------------------------------------------------------------------------

_VECS: dict[tuple[str, str], np.ndarray] = {}  # (model path, instruction) -> its vector, embedded alone


def _embed_one(embedder: Embedder, text: str) -> np.ndarray:
    key = (embedder.model_path, text)
    if key not in _VECS:
        _VECS[key] = embedder.embed([text])[0]
    return _VECS[key]


Verified = tuple[Case | None, list[str]]  # the replay's case when valid, and the problems


def _verify(task: Task) -> Verified:
    try:
        checked = validate(task)
    except Exception as e:  # noqa: BLE001: a task the sandbox cannot run is unverified, not a crash
        return None, [f"{task.id}: replay raised {e!r}"]
    return (checked.replayed.case if checked.ok else None), checked.problems


@dataclass
class _Candidate:
    seed: int
    id: str
    task: Task | None = None
    digest: str = ""  # its fingerprint
    drop: PoolDrop | None = None
    nearest: tuple[str, float] | None = None  # (eval task, cosine), once embedded
    replay: Future[Verified] | None = None

    def dropped(self, kind: DropKind, reason: str) -> PoolDrop:
        self.drop = PoolDrop(task=self.id, kind=kind, reason=reason)
        return self.drop


@dataclass
class _Context:
    generate: Generate
    embedder: Embedder
    reference: Reference
    twins: dict[str, str]  # fingerprint -> eval task id
    threshold: float
    patience: int
    executor: ThreadPoolExecutor

    def candidate(self, family: str, level: int, seed: int) -> _Candidate:
        """Generated and checked for a twin (what needs no embedding and no earlier case)."""
        c = _Candidate(seed, task_id(family, level, seed))
        try:
            c.task = self.generate(family, level, seed)
        except Exception as e:  # noqa: BLE001: a generator defect, dropped and counted, named by its seed
            c.dropped("generator", f"generate_task({family!r}, {level}, {seed}) raised {e!r}"[:300])
            return c
        c.digest = fingerprint(c.task)
        if (twin := self.twins.get(c.digest)) is not None:
            c.dropped("twin", f"twin of eval task {twin} (same family, level and drawn content)")
        return c

    def near(self, c: _Candidate) -> bool:
        """Embed the instruction, keep its nearest eval task; drop the candidate when that is `threshold` close."""
        if c.nearest is None:
            other, cos = self.reference.nearest(_embed_one(self.embedder, c.task.instruction))
            c.nearest = (other, cos)
            if other and cos >= self.threshold:
                c.dropped("near", f"cosine {cos:.3f} to eval task {other}")
        return c.drop is not None


class _Walk:
    """One group's walk through its seeds: candidates resolved in seed order, replays submitted ahead."""

    def __init__(self, family: str, level: int, cursor: int, kept: dict[str, str]):
        self.family, self.level, self.cursor = family, level, cursor
        self.kept = kept  # fingerprint -> task id of each case the group kept
        self.pending: deque[_Candidate] = deque()

    def _extend(self, ctx: _Context) -> None:
        seed = self.pending[-1].seed + 1 if self.pending else self.cursor
        if seed not in POOL_SEEDS:
            raise PoolError(f"{_key(self.family, self.level)} walked past the pool seed range ({POOL_SEEDS.stop - 1})")
        self.pending.append(ctx.candidate(self.family, self.level, seed))

    def _viable(self, c: _Candidate, ctx: _Context) -> bool:
        return c.drop is None and c.digest not in self.kept and not ctx.near(c)

    def schedule(self, want: int, ctx: _Context) -> None:
        """Submit the replays of the next `want` distinct candidates that may be kept (a candidate that repeats
        one of them waits for its turn: it is a duplicate if the first is kept)."""
        wanted: set[str] = set()
        i = misses = 0
        while len(wanted) < want and misses < ctx.patience:
            if i == len(self.pending):
                self._extend(ctx)
            c = self.pending[i]
            i += 1
            if not self._viable(c, ctx) or c.digest in wanted:
                misses += 1
                continue
            misses = 0
            wanted.add(c.digest)
            if c.replay is None:
                c.replay = ctx.executor.submit(_verify, c.task)

    def next_kept(self, ctx: _Context, ahead: int) -> tuple[_Candidate | None, Case | None, list[PoolDrop]]:
        """The group's next case (None once `patience` candidates in a row were dropped) and the drops before it;
        `ahead`: the replays worth submitting when the next candidate has none yet."""
        drops: list[PoolDrop] = []
        while len(drops) < ctx.patience:
            if not self.pending:
                self._extend(ctx)
            c = self.pending[0]
            if c.replay is None and self._viable(c, ctx):
                self.schedule(max(1, ahead), ctx)
            self.pending.popleft()
            case, drop = self._resolve(c)
            if drop is not None:
                drops.append(drop)
                continue
            self.kept[c.digest] = c.id
            self.cursor = c.seed + 1
            return c, case, drops
        return None, None, drops

    def _resolve(self, c: _Candidate) -> tuple[Case | None, PoolDrop | None]:
        if c.drop is not None:
            return None, c.drop
        if (same := self.kept.get(c.digest)) is not None:
            return None, c.dropped("duplicate", f"duplicate of {same}")
        if c.replay is None:  # cannot happen: next_kept schedules a viable candidate at the head first
            raise RuntimeError(f"{c.id} reached its turn without a replay")
        case, problems = c.replay.result()
        if case is None:
            return None, c.dropped("unverified", "; ".join(problems)[:300])
        return case, None


def _pool_case(case: Case, c: _Candidate) -> Case:
    task = c.task
    provenance = {"source": "pool", "generator": task.family, "level": task.level, "seed": c.seed,
                  "task_id": task.id, "fingerprint": c.digest}
    return Case.model_validate({**case.model_dump(), "source": "pool", "metadata": {"provenance": provenance}})


# ---- the folder ------------------------------------------------------------------------------------------

def _write_manifest(out: Path, manifest: PoolManifest) -> None:
    tmp = out / (MANIFEST + ".tmp")
    tmp.write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    tmp.replace(out / MANIFEST)


def _fresh(out: Path, params: PoolParams) -> PoolManifest:
    if out.exists() and any(out.iterdir()):
        raise PoolError(f"{out} is not empty and has no {MANIFEST}: not a pool folder; refusing to write there")
    out.mkdir(parents=True, exist_ok=True)
    (out / POOL_FILE).write_bytes(b"")
    manifest = PoolManifest(params=params)
    _write_manifest(out, manifest)
    return manifest


def _resume(out: Path, params: PoolParams, n: int) -> tuple[PoolManifest, dict[str, dict[str, str]]]:
    """The manifest, pool.jsonl cut back to what it covers, and each group's kept fingerprints."""
    try:
        manifest = PoolManifest.model_validate_json((out / MANIFEST).read_text(encoding="utf-8"))
    except ValidationError as e:
        raise PoolError(f"{out / MANIFEST}: not a pool manifest ({e.errors()[0]['msg']})") from None
    if manifest.params != params:
        differ = [k for k in PoolParams.model_fields if getattr(manifest.params, k) != getattr(params, k)]
        raise PoolError(f"{out} holds a pool built with other parameters ({', '.join(differ)}); "
                        "give another --out or remove it")
    if manifest.cases > n:
        raise PoolError(f"{out} holds {manifest.cases} cases, more than --n {n}: a pool only grows "
                        "(its first n cases are the smaller pool; another --out builds one)")
    path = out / POOL_FILE
    size = path.stat().st_size if path.is_file() else -1
    if size < manifest.bytes:
        raise PoolError(f"{path} has {max(size, 0)} bytes, fewer than the {manifest.bytes} its manifest covers; remove {out}")
    with path.open("r+b") as f:  # what a killed build appended after its last manifest goes
        f.truncate(manifest.bytes)
    kept: dict[str, dict[str, str]] = {}
    for case in load_cases(path) if manifest.bytes else []:
        prov = case.metadata["provenance"]
        kept.setdefault(_key(prov["generator"], prov["level"]), {})[prov["fingerprint"]] = prov["task_id"]
    return manifest, kept


def _append(out: Path, manifest: PoolManifest, cases: list[Case]) -> None:
    """Append the chunk's cases (the lines casefile.write_cases writes) to pool.jsonl, then the manifest."""
    chunk = out / _CHUNK_FILE
    write_cases(cases, chunk)
    data = chunk.read_bytes()
    with (out / POOL_FILE).open("r+b") as f:
        f.seek(manifest.bytes)
        f.write(data)
        f.truncate()
        f.flush()
        os.fsync(f.fileno())
    chunk.unlink()
    manifest.bytes += len(data)
    manifest.cases += len(cases)
    _write_manifest(out, manifest)


# ---- the build -------------------------------------------------------------------------------------------

def _params(families: Sequence[str] | None, levels: Sequence[int], seed_start: int, threshold: float,
            patience: int, embedder: Embedder, evals: list[Task]) -> PoolParams:
    from lab.generators import FAMILIES

    try:
        fams = known_families(families or FAMILIES)
    except BuildError as e:
        raise PoolError(str(e)) from None
    if bad := [lv for lv in levels if lv not in (1, 2, 3)]:
        raise PoolError(f"level must be 1, 2 or 3, not {bad}")
    if seed_start not in POOL_SEEDS:
        raise PoolError(f"--seed-start {seed_start} is outside the pool seed range {POOL_SEEDS.start}-{POOL_SEEDS.stop - 1}")
    digest = hashlib.sha256("\n".join(sorted(f"{t.id} {fingerprint(t)}" for t in evals)).encode()).hexdigest()
    return PoolParams(families=fams, levels=sorted(set(levels)), seed_start=seed_start, threshold=threshold,
                      patience=patience, embedder="/".join(Path(embedder.model_path).parts[-2:]),
                      eval_tasks=len(evals), eval_sha256=digest)


def _turns(start: int, live: list[bool]) -> Iterator[int]:
    """Group indexes round-robin from `start`, skipping exhausted groups."""
    i = start
    while any(live):
        if live[i]:
            yield i
        i = (i + 1) % len(live)


def _record(manifest: PoolManifest, drops: list[PoolDrop]) -> None:
    for d in drops:
        manifest.dropped[d.kind] = manifest.dropped.get(d.kind, 0) + 1
        if d.kind != "duplicate":
            manifest.drops.append(d)
    manifest.dropped = dict(sorted(manifest.dropped.items()))


@dataclass
class _Build:
    out: Path
    manifest: PoolManifest
    order: list[tuple[str, int]]
    walks: list[_Walk]
    ctx: _Context
    on_progress: OnProgress | None
    dropped: int = 0
    live: list[bool] = field(default_factory=list)

    def chunk(self, size: int) -> list[Case]:
        """The next `size` positions' cases (fewer when every group ran out)."""
        plan = Counter(i for i, _ in zip(_turns(self.manifest.next_group, self.live), range(size)))
        for i, k in plan.items():
            self.walks[i].schedule(k, self.ctx)
        cases: list[Case] = []
        taken: Counter[int] = Counter()
        turns = _turns(self.manifest.next_group, self.live)
        while len(cases) < size and (i := next(turns, None)) is not None:
            c, case, drops = self.walks[i].next_kept(self.ctx, plan[i] - taken[i])
            _record(self.manifest, drops)
            self.dropped += len(drops)
            if c is None:  # the group ran out: the next one takes this position
                self.live[i] = False
                self.manifest.exhausted[_key(*self.order[i])] = len(self.walks[i].kept)
                continue
            cases.append(_pool_case(case, c))
            taken[i] += 1
            self._nearest(c)
            self.manifest.next_group = (i + 1) % len(self.order)
            if self.on_progress is not None:
                self.on_progress(self.manifest.cases + len(cases), self.dropped)
        return cases

    def _nearest(self, c: _Candidate) -> None:
        other, cos = c.nearest
        best = self.manifest.nearest
        if other and (best is None or round(cos, 3) > best.cosine):
            self.manifest.nearest = NearestEval(task=c.id, eval_task=other, cosine=round(cos, 3))

    def commit(self, cases: list[Case]) -> None:
        self.manifest.cursors = {_key(w.family, w.level): w.cursor for w in self.walks}
        _append(self.out, self.manifest, cases)


@dataclass
class PoolRun:
    """A pool folder opened for a build (`open_pool`): its parameters checked, its manifest read or started."""

    out: Path
    n: int
    params: PoolParams
    manifest: PoolManifest
    kept: dict[str, dict[str, str]]  # "family:level" -> the kept cases' fingerprints -> task ids
    evals: list[Task]
    embedder: Embedder
    generate: Generate
    jobs: int
    chunk: int

    def run(self, on_progress: OnProgress | None = None) -> PoolManifest:
        """Append chunks until the pool has `n` cases or every group ran out; the manifest written last."""
        manifest, params = self.manifest, self.params
        order = group_order(params.families, params.levels)
        if manifest.cases >= self.n or len(manifest.exhausted) == len(order):
            return manifest  # nothing to do: no embedder, no sandbox
        walks = [_Walk(f, lv, manifest.cursors.get(_key(f, lv), params.seed_start), self.kept.get(_key(f, lv), {}))
                 for f, lv in order]
        executor = ThreadPoolExecutor(max_workers=self.jobs)
        ctx = _Context(self.generate, self.embedder, Reference("eval task", self.evals, self.embedder),
                       {fingerprint(t): t.id for t in self.evals}, params.threshold, params.patience, executor)
        build = _Build(self.out, manifest, order, walks, ctx, on_progress,
                       live=[_key(*g) not in manifest.exhausted for g in order])
        try:
            while manifest.cases < self.n and any(build.live):
                build.commit(build.chunk(min(self.chunk, self.n - manifest.cases)))
        finally:
            executor.shutdown(wait=True, cancel_futures=True)
        return manifest


def open_pool(
    out: Path,
    n: int,
    *,
    families: Sequence[str] | None = None,
    levels: Sequence[int] = (1, 2, 3),
    seed_start: int = POOL_SEEDS.start,
    threshold: float = LEAKAGE_THRESHOLD,
    patience: int = PATIENCE,
    jobs: int = 2,
    chunk: int = CHUNK,
    evals: list[Task] | None = None,
    embedder: Embedder | None = None,
    generate: Generate = generate_task,
) -> PoolRun:
    """Check the parameters and open `out` (a new folder, or one this build resumes); PoolError on bad input.

    Args:
        families: default every family with a generator; levels: 1-3.
        evals: the eval tasks to check leaks against (default `eval_tasks()`).
        generate: (family, level, seed) -> Task, default lab.generators.generate_task."""
    if n < 1 or chunk < 1 or patience < 1 or jobs < 1:
        raise PoolError("n, chunk, patience and jobs must be at least 1")
    out = Path(out)
    embedder = embedder or Embedder()
    evals = eval_tasks() if evals is None else evals
    params = _params(families, levels, seed_start, threshold, patience, embedder, evals)
    if not group_order(params.families, params.levels):
        raise PoolError(f"no family draws the levels {params.levels}")
    manifest, kept = _resume(out, params, n) if (out / MANIFEST).is_file() else (_fresh(out, params), {})
    return PoolRun(out, n, params, manifest, kept, evals, embedder, generate, jobs, chunk)


def build_pool(out: Path, n: int, *, on_progress: OnProgress | None = None, **options: Any) -> PoolManifest:
    """Build (or go on building) the pool of `n` cases in `out`: `open_pool(out, n, **options).run(on_progress)`.

    `on_progress` is called after each kept case with (cases in the pool, candidates dropped by this call). The
    manifest's `cases` is below `n` only when every group ran out of distinct tasks."""
    return open_pool(out, n, **options).run(on_progress)
