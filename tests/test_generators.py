"""The task generators (lab.generators, issue 28): deterministic, split by disjoint seed ranges, deduplicated
against each other, the seed specs and the hand-written ladder, and valid in the real sandbox; the committed
generated ladder (seeds/tasks/generated) regenerates byte for byte from its manifest.

Real sandbox, real embedder. The fake families below are registered by monkeypatching
`lab.generators._modules`; they exist only to plant duplicates."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import types
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from typer.testing import CliRunner

import lab.generators as gen
import seeds
from casebank.tasks import Step, load_tasks, split_problems
from lab.generators import SEED_RANGES, TaskDraft, generate_task
from lab.generators.build import BuildError, build, manifest_json, task_yaml, write
from lab.generators.validate import task_problems

REPO = Path(__file__).resolve().parents[1]
REAL_FAMILIES = gen.FAMILIES
needs_families = pytest.mark.skipif(not REAL_FAMILIES, reason="no family generators yet")

# Reworded instructions: the seed spec bugfix-binary-search-bounds (as in tests/test_seeds.py) and the
# hand-written ladder task l2-bugfix-tip-total.
SEED_PARAPHRASE = ("The find_index function in search.py sometimes reports that an element is absent even though it is "
                   "in the list, for instance the final element; test_search.py demonstrates this. Please repair it.")
LADDER_PARAPHRASE = ("In tip.py the function total_with_tip(50, 20) ought to give 60.0, a 20% tip on a bill of 50, yet "
                     "it gives 70. Correct the formula in total_with_tip and then run python tip.py.")
DISTINCT = [
    "The lighthouse keeper's log needs its last entry: put the word amber into out.txt.",
    "Quarterly tax filings aside, please create out.txt whose only content is basalt.",
    "A chess engine config expects the opening name in out.txt; use cobalt.",
    "Record the volcano's codename, dune, in a new file called out.txt.",
    "The bakery inventory robot wants ember written to out.txt before dawn.",
    "Music playlist metadata: the mood tag belongs in out.txt and should be fjord.",
    "Our telescope scheduler reads tonight's target from out.txt: make it garnet.",
    "Sailing club roster: the boat of the week, harbor, goes into out.txt.",
]


def _draft(instruction: str, word: str = "amber") -> TaskDraft:
    check = (f"import pathlib, sys\nout = pathlib.Path('out.txt')\n"
             f"if not out.is_file() or out.read_text().strip() != {word!r}:\n    sys.exit('no')\n")
    return TaskDraft(instruction=instruction, files={"README.md": "notes\n"}, check=check, tags=["fake"],
                     steps=[Step(thought="Write it.", tool="write_file", args={"path": "out.txt", "content": word + "\n"}),
                            Step(thought="Done.", tool="submit", args={"summary": f"wrote {word}"})])


def _fake(name: str, generate) -> types.ModuleType:  # noqa: ANN001
    module = types.ModuleType(f"fake_{name.replace('-', '_')}")
    module.FAMILY, module.LEVELS, module.generate = name, (1, 2, 3), generate
    return module


@pytest.fixture
def planted(monkeypatch: pytest.MonkeyPatch) -> str:
    """A fake family drawing, seed by seed from the start of a range: a task, its exact duplicate, a seed's
    paraphrase, a ladder task's paraphrase, then distinct tasks. (A counter, not rng: it plants by position;
    build() walks the seeds in order.)"""
    sequence = [_draft(DISTINCT[0]), _draft(DISTINCT[0]), _draft(SEED_PARAPHRASE), _draft(LADDER_PARAPHRASE),
                *(_draft(text, text.split()[-1].strip(".")) for text in DISTINCT[1:])]
    calls = itertools.count()
    fake = _fake("fake-planted", lambda rng, level: sequence[next(calls) % len(sequence)])
    monkeypatch.setattr(gen, "_modules", lambda: {"fake-planted": fake})
    return "fake-planted"


@pytest.fixture
def echo(monkeypatch: pytest.MonkeyPatch) -> str:
    """A fake family whose draws depend on rng only (distinct enough prose for a few tasks a group)."""
    def generate(rng, level):  # noqa: ANN001, ANN202
        text = DISTINCT[rng.randrange(len(DISTINCT))]
        return _draft(f"{text} (level {level}, ticket {rng.randrange(10**6)})", text.split()[-1].strip("."))

    monkeypatch.setattr(gen, "_modules", lambda: {"fake-echo": _fake("fake-echo", generate)})
    return "fake-echo"


def test_seed_ranges_are_disjoint_and_splits_carry_their_split(echo: str) -> None:
    for (a, ra), (b, rb) in itertools.combinations(SEED_RANGES.items(), 2):
        assert not set(range(max(ra.start, rb.start), min(ra.stop, rb.stop))), (a, b)
    for split, seeds_range in SEED_RANGES.items():
        for seed in (seeds_range.start, seeds_range.stop - 1):
            assert generate_task(echo, 1, seed).split == split
    result = build([echo], [1], ["dev", "test", "pool"], 2, validate=False)
    assert not result.shortfalls, result.shortfalls
    for task in result.tasks:
        seed = int(task.id.rsplit("-", 1)[1])
        assert seed in SEED_RANGES[task.split]
    assert Counter(t.split for t in result.tasks) == {"dev": 2, "test": 2, "pool": 2}


def test_planted_duplicates_are_dropped_naming_what_they_copy(planted: str, tmp_path: Path) -> None:
    result = build([planted], [1], ["dev"], 2, validate=False)
    assert [t.id for t in result.tasks] == [f"g-{planted}-l1-0", f"g-{planted}-l1-4"]
    reasons = {d.id: d.reason for d in result.drops}
    assert reasons[f"g-{planted}-l1-1"] == f"duplicate of g-{planted}-l1-0"
    assert reasons[f"g-{planted}-l1-2"].startswith("cosine ") and reasons[f"g-{planted}-l1-2"].endswith(
        " to seed bugfix-binary-search-bounds"), reasons
    assert reasons[f"g-{planted}-l1-3"].endswith(" to ladder task l2-bugfix-tip-total"), reasons
    assert float(reasons[f"g-{planted}-l1-2"].split()[1]) >= 0.8
    write(result, tmp_path / "out")
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["drops"] == [{"id": d.id, "reason": d.reason} for d in result.drops]
    assert manifest["nearest"]["seed"]["cosine"] < 0.8 and manifest["nearest"]["ladder"]["cosine"] < 0.8


def test_write_is_byte_deterministic_loads_back_and_validates(echo: str, tmp_path: Path) -> None:
    first = build([echo], [1, 3], ["dev"], {1: 2, 3: 1}, jobs=2)
    assert first.validated and not first.invalid and first.replay_s > 0
    assert first.manifest()["params"]["n"] == {"1": 2, "3": 1}
    write(first, tmp_path / "a")
    second = build([echo], [3, 1], ["dev"], {1: 2, 3: 1}, validate=False)  # order of the levels given: no matter
    write(second, tmp_path / "b")
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)
    assert [t.model_dump() for t in load_tasks(tmp_path / "a")] == [t.model_dump() for t in sorted(first.tasks, key=lambda t: t.id)]
    text = (tmp_path / "a" / echo / f"{first.tasks[0].id}.yaml").read_text()
    assert list(k.split(":")[0] for k in text.splitlines() if k and not k.startswith(" ")) == [
        "id", "family", "split", "level", "tags", "instruction", "files", "check", "steps"]
    assert "check: |\n" in text and "  - thought:" in text
    write(second, tmp_path / "a")  # a folder written before is replaced; any other is refused
    (tmp_path / "hand").mkdir()
    (tmp_path / "hand" / "mine.yaml").write_text("id: x\n")
    with pytest.raises(BuildError, match="not a generated task folder"):
        write(second, tmp_path / "hand")


def test_an_invalid_task_is_reported_or_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = _draft(DISTINCT[0]).model_copy(update={"check": "print('always passes')\n"})
    monkeypatch.setattr(gen, "_modules", lambda: {"fake-broken": _fake("fake-broken", lambda rng, level: broken)})
    result = build(["fake-broken"], [1], ["dev"], 1)
    assert list(result.invalid) == ["g-fake-broken-l1-0"] and "untouched workspace passes" in result.invalid["g-fake-broken-l1-0"][0]
    result = build(["fake-broken"], [1], ["dev"], 1, drop_invalid=True)
    assert not result.tasks and result.drops[-1].reason.startswith("invalid: ") and result.shortfalls


def test_cli_generates_and_rejects_bad_parameters(echo: str, tmp_path: Path) -> None:
    from cli import app

    runner = CliRunner()
    for args, message in ((["--family", "nope"], "no generator for family nope"), (["--level", "4"], "level must be 1, 2 or 3"),
                          (["--seed-range", "99990:100010"], "inside one split"), (["--seed-range", "7"], "is not A:B"),
                          (["--split", "train"], "unknown split"), (["--n-level", "3=x"], "LEVEL=N")):
        res = runner.invoke(app, ["tasks", "generate", "--out", str(tmp_path / "bad"), *args])
        assert res.exit_code == 2 and message in " ".join(res.output.split()), res.output
        assert not isinstance(res.exception, Exception) or isinstance(res.exception, SystemExit)
    res = runner.invoke(app, ["tasks", "generate", "--out", str(tmp_path / "out"), "--level", "2", "--n", "2",
                              "--seed-range", "1000000:1000050", "--no-validate"])
    assert res.exit_code == 0, res.output
    assert sorted(t.split for t in load_tasks(tmp_path / "out")) == ["pool", "pool"]
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["params"]["seed_range"] == "1000000:1000050"


@needs_families
def test_generation_is_deterministic_across_processes() -> None:
    """Seeds 0 and 100000 of every family and level: the same YAML in this process and in another one with
    another str hash seed."""
    script = (
        "import sys, lab.generators as g\nfrom lab.generators.build import task_yaml\n"
        "for f in g.FAMILIES:\n    for lv in g.family_module(f).LEVELS:\n        for s in (0, 100000):\n"
        "            sys.stdout.write(task_yaml(g.generate_task(f, lv, s)) + '\\0')\n"
    )
    here = "".join(task_yaml(generate_task(f, lv, s)) + "\0" for f in REAL_FAMILIES
                   for lv in gen.family_module(f).LEVELS for s in (0, 100000))
    assert here == "".join(task_yaml(generate_task(f, lv, s)) + "\0" for f in REAL_FAMILIES
                           for lv in gen.family_module(f).LEVELS for s in (0, 100000))
    for hash_seed in ("1", "4242"):
        other = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300,
                               env={**os.environ, "PYTHONHASHSEED": hash_seed})
        assert other.returncode == 0, other.stderr[-2000:]
        assert other.stdout == here


def _replay_all(tasks) -> dict[str, list[str]]:  # noqa: ANN001
    with ThreadPoolExecutor(max_workers=2) as pool:
        return {t.id: p for t, p in zip(tasks, pool.map(task_problems, tasks)) if p}


@needs_families
def test_every_family_and_level_sample_is_valid() -> None:
    """A fixed sample of 1 task per family and level: seed 0 (dev) at levels 1 and 3, seed 100000 (test) at
    level 2, i.e. 42 tasks with the 14 families (the ladder test below replays the other split): the reference
    replays to a pass and the untouched workspace fails."""
    tasks = [generate_task(f, lv, (0, 100000)[(lv + 1) % 2]) for f in REAL_FAMILIES for lv in gen.family_module(f).LEVELS]
    assert _replay_all(tasks) == {}


GENERATED = getattr(seeds, "GENERATED_DIR", seeds.HERE / "tasks" / "generated")
needs_ladder = pytest.mark.skipif(not (GENERATED / "manifest.json").is_file(), reason="the generated ladder is not built (make ladder)")


def _ladder_params() -> dict:
    return json.loads((GENERATED / "manifest.json").read_text())["params"]


@needs_ladder
def test_committed_ladder_regenerates_byte_for_byte() -> None:
    """Generation plus deduplication from the manifest's parameters gives the committed files exactly
    (no replay: the ladder was validated when built, and the next test replays a sample)."""
    params = _ladder_params()
    n = params["n"] if isinstance(params["n"], int) else {int(k): v for k, v in params["n"].items()}
    result = build(params["families"], params["levels"], params["splits"], n, validate=False)
    assert (GENERATED / "manifest.json").read_text() == manifest_json(result)
    committed = sorted(p.relative_to(GENERATED).as_posix() for p in GENERATED.rglob("*.yaml"))
    assert committed == sorted(f"{t.family}/{t.id}.yaml" for t in result.tasks)
    changed = [t.id for t in result.tasks if (GENERATED / t.family / f"{t.id}.yaml").read_text() != task_yaml(t)]
    assert not changed, f"differ from their generator (rebuild with `make ladder`): {changed[:10]}"
    assert params["families"] == list(REAL_FAMILIES), "a family was added or removed: rebuild with `make ladder`"


@needs_ladder
def test_committed_ladder_covers_the_levels_and_a_sample_replays() -> None:
    """Counts (at least 150 / 150 / 100 tasks at levels 1 / 2 / 3), both splits covering every family, and a
    fixed sample of 1 task per family and level replays clean: the group's last task, from test at levels 1
    and 3 and from dev at level 2 (the split the sample above does not replay), i.e. 42 tasks with the 14
    families."""
    tasks = load_tasks(GENERATED)
    by_level = Counter(t.level for t in tasks)
    assert by_level[1] >= 150 and by_level[2] >= 150 and by_level[3] >= 100, by_level
    assert split_problems(tasks) == []
    assert {t.family for t in tasks} == set(REAL_FAMILIES)
    assert all(int(t.id.rsplit("-", 1)[1]) in SEED_RANGES[t.split] for t in tasks)
    sample = []
    for family, level in sorted({(t.family, t.level) for t in tasks}):
        split = ("dev", "test")[level % 2]
        group = sorted((t for t in tasks if (t.family, t.level, t.split) == (family, level, split)),
                       key=lambda t: int(t.id.rsplit("-", 1)[1]))
        sample.append(group[-1])
    assert _replay_all(sample) == {}
