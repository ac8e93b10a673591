"""The bundled demonstrations and evaluation tasks.

- `specs/<family>/<id>.yaml`: the 78 demonstration specs (tasks with scripted steps), the source of truth.
- `seeds.jsonl`: the cases built from them by `casebank seeds build` (replayed and checker-verified).
- `tasks/eval/<family>/<id>.yaml`: the held-out ladder, each task with a reference solution, a `level`
  (1-3; the level 1-2 files are named `l1-*` / `l2-*`) and a `split`: `dev` (tune on it) or `test`
  (report on it). `casebank tasks split-check` proves both splits cover every level and family.
- `tasks/generated/<family>/g-*.yaml`: the generated ladder (`make ladder`, lab.generators): every family at
  levels 1-3, dev and test, with `manifest.json` (the parameters it regenerates from, counts, drops).
- `fixtures/sample.jsonl`: a few hand-written cases for tests of the bank.
"""

from pathlib import Path

HERE = Path(__file__).parent
SPECS_DIR = HERE / "specs"
SEEDS_FILE = HERE / "seeds.jsonl"
EVAL_DIR = HERE / "tasks" / "eval"
GENERATED_DIR = HERE / "tasks" / "generated"
FIXTURE_FILE = HERE / "fixtures" / "sample.jsonl"
SEED_COUNT = 78


def default_seed_file() -> Path:
    """The bundled seeds once built, else the small fixture."""
    return SEEDS_FILE if SEEDS_FILE.is_file() else FIXTURE_FILE
