"""The bank: write-back policy, near-duplicate merge, usage counters, idempotence, persistence."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from casebank.bank import CaseBank
from casebank.config import Settings
from casebank.retrieval import RetrievalFilters
from conftest import REPO, make_case

TASK = "Fix the off-by-one error in the paginate helper so the last page is kept"


def test_unverified_and_failed_trajectories_go_to_quarantine(bank: CaseBank) -> None:
    unverified = make_case("Answer a question about the logs", verified_by="none")
    failed = make_case("Fix the flaky date parser", success=False)
    assert bank.write_back(unverified).action == "quarantined"
    assert bank.write_back(failed).action == "quarantined"
    assert bank.count() == 0 and bank.count(quarantined=True) == 2
    assert bank.retrieve("date parser", 5, "dense") == []  # never retrieved by default
    assert bank.get(failed.id) is None and bank.get(failed.id, quarantined=True) == failed
    with_quarantine = bank.retrieve("date parser", 5, "dense", RetrievalFilters(success_only=False))
    assert with_quarantine[0].case.id == failed.id


def test_verified_success_is_added_and_retrievable(bank: CaseBank) -> None:
    case = make_case(TASK, source="writeback")
    result = bank.write_back(case)
    assert result.action == "added" and result.case_id == case.id
    assert bank.retrieve("paginate last page", 1, "dense")[0].case == case
    assert bank.write_back(case).action == "unchanged"


def test_near_duplicate_keeps_the_shorter_trajectory_and_records_the_merge(bank: CaseBank) -> None:
    long = make_case(TASK, steps=5)
    bank.write_back(long)
    bank.record_usage([long.id], succeeded=True)
    short = make_case(TASK + ".", steps=2)  # the same task, worded a hair differently
    result = bank.write_back(short)
    assert result.action == "merged" and result.case_id == short.id and result.dropped_id == long.id
    assert result.similarity is not None and result.similarity >= bank.settings.dedup_threshold
    kept = bank.get(short.id)
    assert kept is not None and kept.merged_from == [long.id]
    assert kept.usage.retrieved == 1 and kept.usage.retrieved_in_success == 1  # counters carried over
    assert bank.get(long.id) is None and bank.count() == 1
    # A longer duplicate arriving later is dropped in favour of the kept one.
    again = bank.write_back(make_case(TASK, steps=4))
    assert again.action == "merged" and again.case_id == short.id and bank.count() == 1
    assert len(bank.get(short.id).merged_from) == 2


def test_different_tasks_are_not_merged(bank: CaseBank) -> None:
    bank.write_back(make_case(TASK))
    assert bank.write_back(make_case("Fix the off-by-one error in the tokenizer's span offsets")).action == "added"
    assert bank.count() == 2


def test_usage_counters_count_every_concurrent_update(bank: CaseBank) -> None:
    a, b = make_case("Parse the CSV header"), make_case("Render the markdown report")
    bank.upsert([a, b])
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda i: bank.record_usage([a.id, b.id], succeeded=i % 2 == 0), range(20)))
    for case_id in (a.id, b.id):
        usage = bank.get(case_id).usage
        assert (usage.retrieved, usage.retrieved_in_success) == (20, 10)
    assert bank.get(a.id).task == a.task  # counters touched nothing else


def test_upsert_is_idempotent(bank: CaseBank) -> None:
    cases = [make_case(f"Task number {i} about topic {i * 7}") for i in range(5)]
    assert bank.upsert(cases) == 5
    assert bank.upsert(cases) == 5
    assert bank.count() == 5 and bank.all() == sorted(cases, key=lambda c: c.id)


def test_delete_and_stats(bank: CaseBank) -> None:
    bank.upsert([make_case("alpha task", family="x"), make_case("beta task", family="y"), make_case("gamma", verified_by="none")])
    stats = bank.stats()
    assert (stats.cases, stats.quarantined, stats.by_family) == (2, 1, {"x": 1, "y": 1})
    victim = bank.all()[0]
    assert bank.delete(victim.id) and not bank.delete(victim.id)
    assert bank.count() == 1


_CHILD = """
import json, sys
sys.path.insert(0, {tests!r})
from casebank.bank import CaseBank
from casebank.config import Settings
from conftest import make_case
bank = CaseBank(Settings(data_dir={data!r}))
if sys.argv[1] == "write":
    bank.upsert([make_case("Persisted task about sorting records", tags=["keep"])])
    bank.record_usage([bank.all()[0].id], succeeded=True)
else:
    hit = bank.retrieve("sorting records", 1, "hybrid")[0].case
    print(json.dumps({{"count": bank.count(), "tags": hit.tags, "retrieved": hit.usage.retrieved}}))
"""


def test_bank_persists_across_a_process_restart(tmp_path: Path) -> None:
    script = _CHILD.format(tests=str(REPO / "tests"), data=str(tmp_path))
    subprocess.run([sys.executable, "-c", script, "write"], check=True, cwd=REPO, timeout=300)
    out = subprocess.run([sys.executable, "-c", script, "read"], check=True, cwd=REPO, timeout=300, capture_output=True, text=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"count": 1, "tags": ["keep"], "retrieved": 1}


def test_server_bank_persists_across_clients(chroma_server: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, chroma_url=chroma_server, collection="persisted")
    CaseBank(settings).upsert([make_case("Shared server task about caching")])
    reopened = CaseBank(settings)  # a new client, as after a restart of the process
    assert reopened.count() == 1 and reopened.retrieve("caching", 1, "bm25")[0].case.task.startswith("Shared")
    reopened.reset()
    assert CaseBank(settings).count() == 0


def test_reads_by_id_go_past_sqlites_variable_limit(tmp_path: Path) -> None:
    """A 100k-case bank rebuilding its BM25 index read every document in one get(ids=...), which SQLite
    refuses past 32,766 variables ("too many SQL variables"); `get_by_ids` reads in chunks."""
    import chromadb

    from casebank.retrieval import get_by_ids

    client = chromadb.PersistentClient(path=str(tmp_path / "chroma"))
    collection = client.create_collection("big", embedding_function=None)
    n, step = 40_000, client.get_max_batch_size()
    ids = [f"case-{i}" for i in range(n)]
    for start in range(0, n, step):
        part = range(start, min(n, start + step))
        collection.add(ids=[ids[i] for i in part], embeddings=[[float(i), 1.0] for i in part], documents=[f"task {i}" for i in part])
    with pytest.raises(Exception, match="too many SQL variables"):
        collection.get(ids=ids, include=["documents"])  # what the bank did before
    got = get_by_ids(collection, ids, ["documents"])
    assert len(got["ids"]) == n and dict(zip(got["ids"], got["documents"], strict=True)) == {f"case-{i}": f"task {i}" for i in range(n)}
