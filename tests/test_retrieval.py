"""Each strategy behaves as its definition says, on a small crafted bank (real Chroma, real embedder)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from casebank.bank import CaseBank
from casebank.config import Settings
from casebank.retrieval import RRF_K, RetrievalFilters
from conftest import make_case

CONFIG_CRASH = "Fix the crash when the configuration file is missing at startup"
SETTINGS_DOC = "Write a short document describing how the program reads its settings"
TICKET = "Update the copyright header in every source file as requested in ticket KB-9931"
ACCURACY = [
    "Compute the mean validation accuracy for each training run in the CSV log",
    "Compute the average validation accuracy for every run in the CSV log",
    "Compute the mean validation accuracy per training run from the CSV logs",
]
CORPUS = [
    (CONFIG_CRASH, "bugfix", ["python"]),
    (SETTINGS_DOC, "docs", []),
    (TICKET, "chore", []),
    (ACCURACY[0], "analysis", ["csv"]),
    (ACCURACY[1], "analysis", ["csv"]),
    (ACCURACY[2], "analysis", ["csv", "logs"]),
    ("Add a --json output flag to the inventory command line tool", "cli", ["python"]),
    ("Extract author names and affiliations from the paper into a JSON file", "extract", []),
    ("Refactor the billing module to remove the duplicated tax computation", "refactor", ["python"]),
    ("Plot the learning curves of all experiments and save them as PNG", "analysis", []),
    ("Summarise the ablation results into a markdown report with a table", "report", []),
]


@pytest.fixture
def crafted(bank: CaseBank) -> CaseBank:
    bank.upsert([make_case(task, family, tags) for task, family, tags in CORPUS])
    return bank


def tasks(results) -> list[str]:  # noqa: ANN001
    return [r.case.task for r in results]


def test_dense_ranks_a_paraphrase_first_where_bm25_does_not(crafted: CaseBank) -> None:
    query = "program dies on launch when its settings are absent"  # no content word shared with CONFIG_CRASH
    assert tasks(crafted.retrieve(query, 3, "dense"))[0] == CONFIG_CRASH
    assert tasks(crafted.retrieve(query, 3, "bm25"))[0] != CONFIG_CRASH


def test_bm25_ranks_an_exact_rare_keyword_first(crafted: CaseBank) -> None:
    query = "KB-9931: app crashes on boot without config"
    assert tasks(crafted.retrieve(query, 3, "bm25"))[0] == TICKET
    assert tasks(crafted.retrieve(query, 3, "dense"))[0] != TICKET  # the semantics point elsewhere


def test_bm25_without_lexical_overlap_returns_nothing(crafted: CaseBank) -> None:
    assert crafted.retrieve("app crashes on boot", 3, "bm25") == []


def test_hybrid_fuses_both_rankings_with_rrf(crafted: CaseBank) -> None:
    query = "KB-9931: app crashes on boot without config"
    hybrid = crafted.retrieve(query, 2, "hybrid")
    assert set(tasks(hybrid)) == {TICKET, CONFIG_CRASH}  # each list's winner makes the fused top 2
    bm25_ids = [r.case.id for r in crafted.retrieve(query, 20, "bm25")]
    dense_ids = [r.case.id for r in crafted.retrieve(query, 20, "dense")]
    for r in hybrid:
        expected = sum(1 / (RRF_K + ids.index(r.case.id) + 1) for ids in (bm25_ids, dense_ids) if r.case.id in ids)
        assert r.score == pytest.approx(expected)
    assert [r.rank for r in hybrid] == [1, 2]


def _mean_pairwise_similarity(bank: CaseBank, results) -> float:  # noqa: ANN001
    vectors = bank.embedder.embed(tasks(results))
    return float(np.mean([a @ b for a, b in itertools.combinations(vectors, 2)]))


def test_mmr_returns_a_less_redundant_set_than_dense(crafted: CaseBank) -> None:
    query = "average accuracy of each run from a CSV file"
    dense = crafted.retrieve(query, 3, "dense")
    mmr = crafted.retrieve(query, 3, "mmr")
    assert set(tasks(dense)) == set(ACCURACY)  # the three near-duplicates
    assert tasks(mmr)[0] == tasks(dense)[0]  # the most relevant case still leads
    assert len(set(tasks(mmr)) & set(ACCURACY)) < 3
    assert _mean_pairwise_similarity(crafted, mmr) < _mean_pairwise_similarity(crafted, dense) - 0.2


def test_random_is_reproducible_by_seed(crafted: CaseBank) -> None:
    first = [r.case.id for r in crafted.retrieve("anything", 4, "random", seed=7)]
    again = [r.case.id for r in crafted.retrieve("anything", 4, "random", seed=7)]
    others = {tuple(r.case.id for r in crafted.retrieve("anything", 4, "random", seed=s)) for s in range(8, 14)}
    assert first == again and len(set(first)) == 4
    assert len(others | {tuple(first)}) > 1


def test_none_returns_nothing(crafted: CaseBank) -> None:
    assert crafted.retrieve(CONFIG_CRASH, 4, "none") == []
    assert crafted.retrieve(CONFIG_CRASH, 0, "dense") == []


@pytest.mark.parametrize("strategy", ["random", "bm25", "dense", "hybrid", "mmr"])
def test_filters_apply_to_every_strategy(crafted: CaseBank, strategy: str) -> None:
    query = "compute accuracy of runs and fix the configuration crash"
    only_python = crafted.retrieve(query, 10, strategy, RetrievalFilters(tags=["python"]))  # type: ignore[arg-type]
    assert only_python and all("python" in r.case.tags for r in only_python)
    analysis = crafted.retrieve(query, 10, strategy, RetrievalFilters(families=["analysis"]))  # type: ignore[arg-type]
    assert analysis and {r.case.family for r in analysis} == {"analysis"}
    excluded = {r.case.id for r in analysis[:2]}
    rest = crafted.retrieve(query, 10, strategy, RetrievalFilters(families=["analysis"], exclude_ids=sorted(excluded)))  # type: ignore[arg-type]
    assert not excluded & {r.case.id for r in rest}
    assert crafted.retrieve(query, 10, strategy, RetrievalFilters(sources=["writeback"])) == []  # type: ignore[arg-type]


def test_results_carry_scores_and_ranks(crafted: CaseBank) -> None:
    results = crafted.retrieve("validation accuracy", 4, "dense")
    assert [r.rank for r in results] == [1, 2, 3, 4]
    scores = [r.score for r in results]
    assert scores == sorted(scores, reverse=True) and all(-1 <= s <= 1 for s in scores)


def test_a_write_is_scored_beside_the_bm25_index_as_a_rebuild_would(crafted: CaseBank) -> None:
    """After a write, BM25 does not rebuild its index: the new documents are scored with the index's statistics.
    Rankings equal a fresh rebuild's, and the formula is bm25s's; past the delta limit it rebuilds."""
    from casebank.retrieval import Retriever

    retriever = crafted.retriever
    crafted.retrieve("validation accuracy", 3, "bm25")
    (view,) = retriever._views.values()
    entry = view.bm25
    index_before = entry.index
    new = [make_case(t, "analysis", []) for t in ("Compute the validation accuracy of ticket KB-9931 runs",
                                                  "Rename the columns of the CSV log to snake case")]
    crafted.upsert(new)
    for query in ("validation accuracy", "ticket KB-9931 accuracy", "csv log columns", "settings document"):
        incremental = crafted.retrieve(query, 5, "bm25")
        rebuilt = Retriever(crafted)._finish(Retriever(crafted)._bm25(query, 5, RetrievalFilters()), "bm25", RetrievalFilters())
        assert tasks(incremental) == tasks(rebuilt), query
    # The formula is bm25s's own: scoring an indexed document with it gives the index's score for that document.
    from casebank.retrieval import _tokenize, _words

    docs = {r.case.task: r.score for r in crafted.retrieve("validation accuracy csv log", 20, "bm25") if r.case.id in entry.indexed}
    query_words = _words(["validation accuracy csv log"])[0]
    for task, score in docs.items():
        assert entry.score(query_words, _words([task])[0]) == pytest.approx(score, rel=1e-5), task
    assert len(docs) >= 3 and _tokenize(["validation accuracy csv log"]).vocab
    assert entry.index is index_before and set(entry.extra) == {c.id for c in new}  # scored beside, not rebuilt
    assert tasks(crafted.retrieve("ticket KB-9931 accuracy", 1, "bm25")) == [new[0].task]

    retriever.DELTA_MAX = 1  # one more write passes the limit (and 1% of 13): the index is rebuilt over all
    crafted.upsert([make_case("Count the rows of the CSV log per run", "analysis", [])])
    crafted.retrieve("csv log", 3, "bm25")
    (view,) = retriever._views.values()
    entry = view.bm25
    assert entry.index is not index_before and entry.extra == {} and len(entry.ids) == len(CORPUS) + 3


# ---- the read path at scale (issue 29) ---------------------------------------------------------------------
class CountingCollection:
    """A Chroma collection that records each call a query makes to it: (method, whether it named ids)."""

    def __init__(self, collection, calls: list) -> None:  # noqa: ANN001
        self._collection, self._calls = collection, calls

    def __getattr__(self, name: str):  # noqa: ANN204
        attr = getattr(self._collection, name)
        if name not in {"get", "query", "count", "peek"}:
            return attr

        def call(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            self._calls.append((name, kwargs.get("ids") is not None))
            return attr(*args, **kwargs)

        return call


WORDS = ["invoice", "parser", "ledger", "cache", "report", "schema", "queue", "tokens", "matrix", "config"]


def _synthetic(n: int) -> list:
    return [make_case(f"Rename the {WORDS[i % 10]} field to {WORDS[(i // 10) % 10]}_{i} in module_{i}.py", "chore")
            for i in range(n)]


def _calls_per_query(bank: CaseBank, n: int) -> dict[str, list]:
    """Chroma calls of one query per strategy on a bank of n cases: once with no write since the last query,
    once after this process wrote a case."""
    bank.upsert(_synthetic(n))
    query = "rename the ledger field in the module"
    for strategy in ("bm25", "random", "hybrid"):
        bank.retrieve(query, 4, strategy)  # views and the BM25 index built: one listing
    listed = bank.retriever.listings
    calls: list = []
    bank.cases = CountingCollection(bank.cases, calls)
    bank.quarantine = CountingCollection(bank.quarantine, calls)
    out: dict[str, list] = {}
    for label in ("idle", "after a write"):
        if label == "after a write":
            bank.quarantine, bank.cases = bank.quarantine._collection, bank.cases._collection
            added = bank.write_back(make_case("Rename the zebra ledger field in stripes.py", "chore"))
            assert added.action == "added"
            bank.cases = CountingCollection(bank.cases, calls)
            bank.quarantine = CountingCollection(bank.quarantine, calls)
        for strategy in ("bm25", "random", "hybrid"):
            calls.clear()
            hits = bank.retrieve("zebra ledger field" if strategy == "bm25" else query, 4, strategy)
            out[f"{strategy} {label}"] = list(calls)
            assert len(hits) == 4
            if strategy == "bm25" and label == "after a write":
                assert hits[0].case.id == added.case_id  # the own write is seen without listing
    assert bank.retriever.listings == listed, "a query listed the collection"
    return out


def test_a_query_costs_the_same_chroma_calls_at_two_bank_sizes(tmp_path: Path) -> None:
    """The staleness check is O(1) in the bank's size: the write counter, not a listing of every id. A query
    makes the same Chroma calls at 30 and at 300 cases, idle or right after a write, and none of them lists."""
    small = _calls_per_query(CaseBank(Settings(data_dir=tmp_path / "small")), 30)
    large = _calls_per_query(CaseBank(Settings(data_dir=tmp_path / "large")), 300)
    assert small == large
    for calls in small.values():
        assert all(named for method, named in calls if method == "get"), calls  # every get names its ids
    assert small["bm25 idle"] == [("get", True)]  # the returned cases' records, nothing else
    assert small["hybrid idle"] == [("query", False), ("get", True)]  # HNSW, then the records; no count, no listing


def test_the_read_path_does_not_scan_text_again_and_still_checks_ids(bank: CaseBank, monkeypatch: pytest.MonkeyPatch) -> None:
    """Records the bank wrote were checked then; reading them skips `check_value` (most of a dense query's time
    at 100k cases). Every write path still refuses bad text, and a record edited behind the bank's back fails."""
    from casebank import models
    from casebank.chroma_records import CASE_JSON
    from casebank.models import TextError

    bank.upsert([make_case(task, family, tags) for task, family, tags in CORPUS])
    scans: list[str] = []
    real = models.check_value
    monkeypatch.setattr(models, "check_value", lambda value, field="": (scans.append(field), real(value, field))[1])
    for strategy in ("dense", "bm25", "random", "hybrid", "mmr"):
        assert len(bank.retrieve(CONFIG_CRASH, 3, strategy)) == 3
    assert bank.all() and bank.get(bank.all()[0].id) is not None
    assert scans == []
    stored = bank.get(bank.all()[0].id)
    assert stored.stats == stored.compute_stats()  # the stats kept from the write are the content's

    bad = make_case(TICKET + " again", "chore").model_copy(update={"task": "bad \x00 text"})  # model_copy skips checks
    with pytest.raises(TextError, match="NUL"):
        bank.upsert([bad])
    with pytest.raises(TextError, match="NUL"):
        bank.write_back(bad)
    assert bank.count() == len(CORPUS)

    victim = bank.all()[0]
    meta = bank.cases.get(ids=[victim.id], include=["metadatas"])["metadatas"][0]
    record = json.loads(meta[CASE_JSON])
    record["messages"][0]["content"] = "changed behind the bank's back"
    bank.cases.update(ids=[victim.id], metadatas=[{**meta, CASE_JSON: json.dumps(record)}])
    with pytest.raises(ValueError, match="does not match"):
        bank.get(victim.id)
