"""Several real processes on one embedded bank: each sees the others' writes before it retrieves or
deduplicates, and concurrent writers lose no usage-counter update and create no duplicate case."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from casebank.bank import CaseBank
from casebank.config import Settings
from casebank.retrieval import RetrievalFilters
from conftest import REPO, make_case

X_TASK = "Fix the off-by-one error in the paginate helper so the last page is kept"
UNRELATED = [
    "Add a --json output flag to the inventory command line tool",
    "Extract author names and affiliations from the paper into a JSON file",
    "Plot the learning curves of all experiments and save them as PNG",
    "Summarise the ablation results into a markdown report with a table",
]

# A long-running bank process, driven by one JSON command per stdin line, answering one JSON line each.
_WORKER = """
import json, sys
sys.path.insert(0, {tests!r})
from casebank.bank import CaseBank
from casebank.config import Settings
from casebank.retrieval import RetrievalFilters
from conftest import make_case
bank = CaseBank(Settings(data_dir={data!r}))
bank.embedder.embed(["warm up"])  # load the model before the clock starts, as `casebank serve` does
print(json.dumps({{"ready": True}}), flush=True)
for line in sys.stdin:
    cmd = json.loads(line)
    if cmd["op"] == "upsert":
        bank.upsert([make_case(t) for t in cmd["tasks"]])
        out = {{"count": bank.count()}}
    elif cmd["op"] == "top":
        hit = bank.retrieve(cmd["task"], 1, "dense")[0]
        out = {{"id": hit.case.id, "score": hit.score, "reopened": getattr(bank, "reopened", None)}}
    elif cmd["op"] == "lexical":  # BM25 and random: the retriever's own view of the candidate ids
        bm25 = [hit.case.id for hit in bank.retrieve(cmd["task"], 1, "bm25")]
        every = sorted(hit.case.id for hit in bank.retrieve(cmd["task"], 100, "random"))
        out = {{"bm25": bm25, "random": every, "listings": bank.retriever.listings}}
    elif cmd["op"] == "write_back":
        out = bank.write_back(make_case(cmd["task"], steps=cmd["steps"])).model_dump()
    elif cmd["op"] == "hammer":  # the concurrent workload: usage on shared cases, overlapping duplicates
        actions = []
        for i in range(cmd["n"]):
            bank.record_usage(cmd["usage_ids"], succeeded=i % 2 == 0)
            if i < len(cmd["writes"]):
                task, steps = cmd["writes"][i]
                actions.append(bank.write_back(make_case(task, steps=steps)).action)
        out = {{"actions": actions, "reopened": getattr(bank, "reopened", None)}}
    print(json.dumps(out), flush=True)
"""


class Worker:
    """One bank process on `data`, alive across commands (as `casebank serve` would be)."""

    def __init__(self, data: Path):
        script = _WORKER.format(tests=str(REPO / "tests"), data=str(data))
        env = os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        self.proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, env=env, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def read(self) -> dict[str, Any]:
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        assert line, f"worker died: {self.proc.stderr.read()[-3000:]}"  # type: ignore[union-attr]
        return json.loads(line)

    def send(self, **cmd: Any) -> None:
        self.proc.stdin.write(json.dumps(cmd) + "\n")  # type: ignore[union-attr]
        self.proc.stdin.flush()  # type: ignore[union-attr]

    def ask(self, **cmd: Any) -> dict[str, Any]:
        self.send(**cmd)
        return self.read()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()  # type: ignore[union-attr]
            self.proc.wait(timeout=60)
        assert self.proc.returncode == 0, self.proc.stderr.read()[-3000:]  # type: ignore[union-attr]


def test_a_running_process_sees_another_process_import_before_retrieving_and_deduplicating(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = Worker(data)  # process B: holds the bank open, like `casebank serve`
    try:
        assert server.read() == {"ready": True}
        assert server.ask(op="upsert", tasks=UNRELATED) == {"count": len(UNRELATED)}
        before = server.ask(op="top", task=X_TASK)  # a dense query: B's HNSW index is now loaded
        assert before["score"] < 0.5
        lexical = server.ask(op="lexical", task=X_TASK)  # B's BM25 index and candidate ids, built by listing once
        assert lexical["bm25"] == [] and len(lexical["random"]) == len(UNRELATED) and lexical["listings"] == 1
        # Process A: `casebank import` of case X on the same data dir while B runs.
        x = make_case(X_TASK, steps=3)
        (tmp_path / "x.jsonl").write_text(x.model_dump_json() + "\n")
        env = os.environ | {"CASEBANK_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
        imported = subprocess.run([str(Path(sys.executable).parent / "casebank"), "import", str(tmp_path / "x.jsonl")],
                                  cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        assert imported.returncode == 0, imported.stderr
        assert "1 retrievable" in " ".join(imported.stdout.split())

        top = server.ask(op="top", task=X_TASK)
        assert top["id"] == x.id and top["score"] > 0.99, top  # on 087dcb0: another case, 0.1
        assert top["reopened"] == 1
        # BM25 and random see A's write too: B's write counter moved by a write B did not make, so B lists once.
        lexical = server.ask(op="lexical", task=X_TASK)
        assert lexical["bm25"] == [x.id] and x.id in lexical["random"] and lexical["listings"] == 2, lexical
        merged = server.ask(op="write_back", task=X_TASK, steps=1)  # a shorter run of the same task
        assert merged["action"] == "merged" and merged["dropped_id"] == x.id, merged
        # B's own write is applied to its views from the ids it touched, without listing again.
        lexical = server.ask(op="lexical", task=X_TASK)
        assert lexical["bm25"] == [merged["case_id"]] and x.id not in lexical["random"], lexical
        assert merged["case_id"] in lexical["random"] and lexical["listings"] == 2, lexical
    finally:
        server.close()
    fresh = CaseBank(Settings(data_dir=data))
    assert fresh.count() == len(UNRELATED) + 1
    hits = fresh.retrieve(X_TASK, 2, "dense")
    assert hits[0].case.id == merged["case_id"] and hits[0].case.merged_from == [x.id]
    assert hits[1].score < fresh.settings.dedup_threshold  # no second copy of X


WORKERS, ROUNDS = 4, 12
SHARED = ["Compute the mean validation accuracy for each training run in the CSV log",
          "Rename the config key timeout_s to timeout_seconds in every INI file"]
DUPLICATED = [X_TASK, UNRELATED[0], UNRELATED[1]]


def _steps(worker: int, group: int) -> int:
    """Across the four workers each duplicated task gets trajectories of 1, 2, 3 and 4 steps."""
    return 1 + (worker + group) % WORKERS


def test_four_processes_writing_concurrently_lose_no_usage_update_and_add_no_duplicate(tmp_path: Path) -> None:
    data = tmp_path / "data"
    observer = CaseBank(Settings(data_dir=data))  # this test process stays open throughout, too
    observer.upsert([make_case(t) for t in SHARED])
    shared_ids = [c.id for c in observer.all()]
    observer.retrieve(SHARED[0], 1, "dense")  # load its HNSW index before the others write

    workers = [Worker(data) for _ in range(WORKERS)]
    try:
        for w in workers:
            assert w.read() == {"ready": True}
        for i, w in enumerate(workers):  # all start together: the writes interleave
            writes = [(task, _steps(i, g)) for g, task in enumerate(DUPLICATED)]
            w.send(op="hammer", n=ROUNDS, usage_ids=shared_ids, writes=writes)
        results = [w.read() for w in workers]
    finally:
        for w in workers:
            w.close()

    actions = sorted(a for r in results for a in r["actions"])
    assert actions.count("added") == len(DUPLICATED), actions  # each task added once, merged thereafter
    assert actions.count("merged") == len(DUPLICATED) * (WORKERS - 1), actions
    assert sum(r["reopened"] for r in results) > 0  # the workers did see each other's writes

    expected = (WORKERS * ROUNDS, WORKERS * math.ceil(ROUNDS / 2))
    for bank in (observer, CaseBank(Settings(data_dir=data))):  # the long-open view and a fresh one
        cases = {c.task: c for c in bank.all()}
        assert bank.count() == len(SHARED) + len(DUPLICATED) == len(cases)
        for task in SHARED:
            usage = cases[task].usage
            assert (usage.retrieved, usage.retrieved_in_success) == expected
        for task in DUPLICATED:  # one case per task: the shortest trajectory, the three others merged in
            kept = cases[task]
            assert kept.stats.steps == 1 and len(kept.merged_from) == WORKERS - 1
            assert kept.usage.retrieved == 0
        for case in cases.values():  # the dense index holds every case exactly once
            hits = bank.retrieve(case.task, 2, "dense", RetrievalFilters())
            assert hits[0].case.id == case.id and hits[0].score > 0.99
            assert hits[1].score < bank.settings.dedup_threshold
    vectors = observer.embedder.embed(sorted(cases))
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, 0)
    assert similarity.max() < observer.settings.dedup_threshold
