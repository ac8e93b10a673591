"""The bundled demonstrations and evaluation tasks.

- `specs/<family>/<id>.yaml`: the 78 demonstration specs (tasks with scripted steps), the source of truth.
- `seeds.jsonl`: the cases built from them by `casebank seeds build` (replayed and checker-verified).
- `tasks/eval/<family>/<id>.yaml`: held-out evaluation tasks, each with a reference solution.
- `fixtures/sample.jsonl`: a few hand-written cases for tests of the bank.
"""

from pathlib import Path

HERE = Path(__file__).parent
SPECS_DIR = HERE / "specs"
SEEDS_FILE = HERE / "seeds.jsonl"
EVAL_DIR = HERE / "tasks" / "eval"
FIXTURE_FILE = HERE / "fixtures" / "sample.jsonl"
SEED_COUNT = 78


def default_seed_file() -> Path:
    """The bundled seeds once built, else the small fixture."""
    return SEEDS_FILE if SEEDS_FILE.is_file() else FIXTURE_FILE
