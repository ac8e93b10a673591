"""The 78 bundled demonstrations and the held-out evaluation tasks: real replays in the real sandbox."""

from __future__ import annotations

import statistics
from collections import Counter

import pytest

import seeds
from casebank.casefile import load_cases
from casebank.demos import normalise_observation, replay, shows_recovery
from casebank.embedding import Embedder
from casebank.leakage import LEAKAGE_THRESHOLD, nearest_seeds
from lab.generators.validate import task_problems
from casebank.tasks import Task, load_tasks, split_problems

SPECS = load_tasks(seeds.SPECS_DIR)
EVAL = load_tasks(seeds.EVAL_DIR)
BUNDLED = {c.task_id: c for c in load_cases(seeds.SEEDS_FILE)}
SEED_FAMILIES = {t.family for t in SPECS}


def test_exactly_78_demos_in_at_least_10_families_none_over_12() -> None:
    assert len(SPECS) == seeds.SEED_COUNT == 78
    assert all(t.split == "seed" and t.steps for t in SPECS)
    families = Counter(t.family for t in SPECS)
    assert len(families) >= 10 and max(families.values()) <= 12, families


def test_seed_file_holds_every_demo_verified() -> None:
    assert set(BUNDLED) == {t.id for t in SPECS}
    for case in BUNDLED.values():
        assert case.outcome.success and case.outcome.verified_by == "checker" and case.source == "seed"
        assert case.messages[-1].role == "tool" and case.tool_call_names()[-1] == "submit"


def test_at_least_20_demos_show_recovery() -> None:
    assert sum(map(shows_recovery, BUNDLED.values())) >= 20


def test_demos_are_compact() -> None:
    tokens = [c.stats.approx_tokens for c in BUNDLED.values()]
    assert statistics.median(tokens) <= 1500 and max(tokens) <= 3000


@pytest.mark.parametrize("task", SPECS, ids=lambda t: t.id)
def test_demo_replays_and_reproduces_the_seed(task: Task) -> None:
    result = replay(task)
    assert result.ok, (result.problems, result.check.output[-1000:])
    recorded = BUNDLED[task.id].messages
    assert [normalise_observation(m.content or "") for m in result.case.messages] == [
        normalise_observation(m.content or "") for m in recorded
    ]


def test_eval_suite_shape() -> None:
    assert len(EVAL) >= 90 and all(t.split in {"dev", "test"} and t.steps for t in EVAL)
    assert sum(t.level in (1, 2) for t in EVAL) >= 30
    assert split_problems(EVAL) == []  # dev and test both cover every level and every family
    in_family = [t for t in EVAL if t.family in SEED_FAMILIES]
    out_of_distribution = [t for t in EVAL if t.family not in SEED_FAMILIES]
    assert len(in_family) >= 40
    assert len(out_of_distribution) >= 20 and len({t.family for t in out_of_distribution}) >= 3
    assert not {t.id for t in EVAL} & {t.id for t in SPECS}


@pytest.mark.parametrize("task", EVAL, ids=lambda t: t.id)
def test_eval_task_is_solvable_and_not_vacuous(task: Task) -> None:
    # the reference replays to a pass (its submit summary is the checker's ANSWER); the untouched workspace fails,
    # the one validity rule of hand-written and generated tasks (lab.generators.validate)
    assert task_problems(task) == []


# Hand-written rewordings of seed instructions: what a leaked eval task would look like.
PARAPHRASES = {
 "bugfix-binary-search-bounds": "The find_index function in search.py sometimes reports that an element is absent even though it is in the list, for instance the final element; test_search.py demonstrates this. Please repair it.",
 "cli-feature-count-json": "Give count.py a --json option that outputs the line, word and character counts as a JSON object {\"file\", \"lines\", \"words\", \"chars\"} rather than plain text; keep the default output unchanged.",
 "compare-runs-best-checkpoint": "Pick the checkpoint to release: from checkpoints.jsonl choose the one with the best val_acc (ties broken by lower val_loss) and save it to best_checkpoint.json as {\"step\", \"val_acc\", \"val_loss\"}.",
 "implement-function-run-length": "Write the encode() and decode() functions of rle.py, a run-length encoder whose format the module docstring explains, so that decoding an encoding returns the original string.",
 "write-tests-extend-dates": "Extend tests/test_dates.py, which only tests is_leap_year, with tests of days_in_month: months with 31 and 30 days, February in leap and common years, and ValueError for a month not in 1..12. Keep the current tests.",
 "report-benchmark-compare": "Write bench_compare.md comparing baseline.json with candidate.json benchmark timings: a table of benchmark, baseline_ms, candidate_ms and change_pct for the benchmarks both files have, sorted by name, plus a Regressions section.",
}


def test_no_eval_task_is_a_paraphrase_of_a_seed() -> None:
    embedder = Embedder()
    rows = nearest_seeds(EVAL, SPECS, embedder)
    leaks = [r for r in rows if r.similarity >= LEAKAGE_THRESHOLD]
    assert not leaks, leaks
    # The threshold is meaningful: every paraphrase of a seed is caught, and maps to its own seed.
    specs = {t.id: t for t in SPECS}
    fakes = [specs[sid].model_copy(update={"id": f"paraphrase-of-{sid}", "instruction": text}) for sid, text in PARAPHRASES.items()]
    for row, seed_id in zip(nearest_seeds(fakes, SPECS, embedder), PARAPHRASES):
        assert row.seed_id == seed_id and row.similarity >= LEAKAGE_THRESHOLD, row
