"""Shared helpers of the code-editing family generators (bugfix, implement-function, refactor, write-tests,
cli-feature). A module whose name starts with `_` is not a family: lab.generators skips it."""

from __future__ import annotations

import random
import textwrap
from typing import Any, Callable

from casebank.tasks import Step
from lab.generators import TaskDraft

__all__ = [
    "PRELUDE", "cli_prelude", "dd", "draft", "edit", "fill", "mutation_check", "pick", "pick_scenario",
    "read", "run", "submit", "write",
]

# Every module-importing checker starts like the hand-written ones.
PRELUDE = "import sys\nsys.path.insert(0, \".\")\n"


def dd(text: str) -> str:
    """Dedent a triple-quoted block and drop its first newline."""
    return textwrap.dedent(text).lstrip("\n")


def fill(text: str, **values: Any) -> str:
    """Replace each @name@ marker (markers never clash with Python's braces or decorators)."""
    for key, value in values.items():
        text = text.replace(f"@{key}@", str(value))
    if "@" in text:
        import re

        left = re.findall(r"@[a-z_0-9]+@", text)
        if left:
            raise KeyError(f"unfilled markers {left}")
    return text


def pick(rng: random.Random, options: list[Any] | tuple[Any, ...]) -> Any:
    return options[rng.randrange(len(options))]


def pick_scenario(rng: random.Random, scenarios: list[Callable[[random.Random], TaskDraft]]) -> TaskDraft:
    return pick(rng, scenarios)(rng)


def read(path: str, thought: str = "Read the code first.") -> Step:
    return Step(thought=thought, tool="read_file", args={"path": path})


def edit(path: str, old: str, new: str, thought: str = "Make the change.") -> Step:
    return Step(thought=thought, tool="edit_file", args={"path": path, "old": old, "new": new})


def write(path: str, content: str, thought: str = "Write the file.") -> Step:
    return Step(thought=thought, tool="write_file", args={"path": path, "content": content})


def run(command: str, thought: str = "Run it.") -> Step:
    return Step(thought=thought, tool="run", args={"command": command})


def submit(summary: str, thought: str = "Done.") -> Step:
    return Step(thought=thought, tool="submit", args={"summary": summary})


def draft(instruction: str, files: dict[str, str], check: str, steps: list[Step], tags: list[str]) -> TaskDraft:
    """A TaskDraft, after checking what the replay would trip over: every edit's `old` text occurs exactly
    once in the file as it stands at that step."""
    state = dict(files)
    for s in steps:
        if s.tool == "edit_file" and not s.expect_error:
            path, old, new = s.args["path"], s.args["old"], s.args["new"]
            text = state.get(path)
            if text is None or text.count(old) != 1:
                raise AssertionError(f"edit of {path}: old text occurs {0 if text is None else text.count(old)} times: {old!r}")
            state[path] = text.replace(old, new)
        elif s.tool == "write_file":
            state[s.args["path"]] = s.args["content"]
    if steps[-1].tool != "submit":
        raise AssertionError("the last step must submit")
    instruction = instruction.strip() + "\n"
    return TaskDraft(instruction=instruction, files=files, check=check.strip() + "\n", steps=steps, tags=tags)


def mutation_check(module: str, original: str, tests: str, mutants: list[tuple[str, str, str]], *,
                   min_tests: int = 1, keep_module: bool = True) -> str:
    """A write-tests checker: the test file `tests` must exist, pass on the original `module` source
    (`original`, written over whatever the workspace holds) with at least `min_tests` passing tests, and fail
    on every mutant (name, old, new): `original` with `old` replaced by `new`."""
    for name, old, _new in mutants:
        if original.count(old) != 1:
            raise AssertionError(f"mutant {name!r}: {old!r} occurs {original.count(old)} times in {module}")
    return dd(f'''
        import os, shutil, subprocess, sys, tempfile
        from pathlib import Path

        MODULE = {module!r}
        TESTS = {tests!r}
        ORIGINAL = {original!r}
        MUTANTS = {mutants!r}
        MIN_TESTS = {min_tests!r}

        assert Path(TESTS).is_file(), f"missing {{TESTS}}"


        def run_tests(source):
            tmp = Path(tempfile.mkdtemp())
            try:
                shutil.copytree(".", tmp, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
                (tmp / MODULE).write_text(source)
                proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", TESTS],
                                      cwd=tmp, capture_output=True, text=True, timeout=60,
                                      env={{**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}})
                return proc.returncode, proc.stdout[-3000:]
            finally:
                shutil.rmtree(tmp, ignore_errors=True)


        code, out = run_tests(ORIGINAL)
        assert code == 0, "the tests must pass on the original module:\\n" + out
        passed = int(out.rsplit(" passed", 1)[0].split()[-1]) if " passed" in out else 0
        assert passed >= MIN_TESTS, f"expected at least {{MIN_TESTS}} passing tests, got {{passed}}:\\n" + out
        survivors = []
        for name, old, new in MUTANTS:
            assert old in ORIGINAL, name
            if run_tests(ORIGINAL.replace(old, new))[0] == 0:
                survivors.append(name)
        assert not survivors, f"the tests still pass on broken versions of {{MODULE}}: {{survivors}}"
        print("ok")
    ''')


def cli_prelude(script: str, extra_files: dict[str, str] | None = None) -> str:
    """Checker head for a command-line script: copy `script` (and write `extra_files`) into a fresh temp dir,
    `run(*args)` gives the CompletedProcess, `out(*args)` the stripped stdout of a run that must exit 0."""
    return dd(f'''
        import json, os, shutil, subprocess, sys, tempfile
        D = tempfile.mkdtemp()
        shutil.copy({script!r}, D)
        for _name, _text in {dict(extra_files or {})!r}.items():
            os.makedirs(os.path.dirname(os.path.join(D, _name)) or D, exist_ok=True)
            with open(os.path.join(D, _name), "w") as _f:
                _f.write(_text)


        def run(*args, stdin=None):
            return subprocess.run([sys.executable, {script!r}, *args], cwd=D, capture_output=True, text=True,
                                  input=stdin, timeout=60)


        def out(*args, stdin=None):
            r = run(*args, stdin=stdin)
            assert r.returncode == 0, (args, r.returncode, r.stderr[-800:])
            return r.stdout.strip()
    ''')
