"""Shared helpers of the general, config-edit, data-cleaning and shell-files generators: steps, phrasing
choices and checker snippets (standard library only, as the checker runs under plain `python`)."""

from __future__ import annotations

import inspect
import random
import re
import textwrap
from typing import Any

from casebank.tasks import Step

__all__ = [
    "ANSWER_NUMBERS", "RUN_IN_TMP", "FIRST_NAMES", "LAST_NAMES", "CITIES", "check", "dd", "intro", "one", "some",
    "step", "submit", "wrap",
]


def step(tool: str, thought: str = "", **args: Any) -> Step:
    return Step(thought=thought, tool=tool, args=args)


def submit(summary: str, thought: str = "") -> Step:
    return Step(thought=thought, tool="submit", args={"summary": summary})


def one(rng: random.Random, options):
    """One of `options` (a list or tuple; never a set)."""
    return options[rng.randrange(len(options))]


def some(rng: random.Random, options, k: int) -> list:
    return rng.sample(list(options), k)


def dd(text: str) -> str:
    """Dedent a triple-quoted block and drop its first newline."""
    return textwrap.dedent(text).lstrip("\n")


def wrap(text: str, width: int = 100) -> str:
    """Instruction prose: the text dedented (inspect.cleandoc), paragraphs (split on blank lines) reflowed to
    `width`; a paragraph with list items or indented lines is kept line by line."""
    out = []
    for para in inspect.cleandoc(text).split("\n\n"):
        lines = para.splitlines()
        if any(re.match(r"\s*(?:[-*]|\d+\.)\s", l) or l.startswith("  ") for l in lines):
            out.append("\n".join(l.rstrip() for l in lines))
        else:
            out.append(textwrap.fill(" ".join(l.strip() for l in lines), width))
    return "\n\n".join(out) + "\n"


def intro(rng: random.Random, openers, text: str) -> str:
    """`text` as instruction prose, sometimes led by one of `openers` (a varied context sentence)."""
    opener = one(rng, openers)
    return wrap((opener + " " if opener else "") + inspect.cleandoc(text))


def check(*parts: str) -> str:
    """A checker from dedented parts, ending with print("ok")."""
    body = "\n".join(dd(p).rstrip("\n") for p in parts)
    return body + '\nprint("ok")\n'


# the numbers in the submitted answer (thousands separators dropped)
ANSWER_NUMBERS = '''
import re
NUMBERS = re.findall(r"-?\\d+(?:\\.\\d+)?", ANSWER.replace(",", ""))
'''

# run a command in a scratch copy: `copy` names workspace files to take along, `files` are written there
RUN_IN_TMP = '''
import os, re, shutil, subprocess, sys, tempfile

def run_in_tmp(copy, files, cmd, read=()):
    tmp = tempfile.mkdtemp()
    try:
        for name in copy:
            dst = os.path.join(tmp, name)
            os.makedirs(os.path.dirname(dst) or tmp, exist_ok=True)
            if os.path.isdir(name):
                shutil.copytree(name, dst)
            else:
                shutil.copy(name, dst)
        for name, text in files.items():
            dst = os.path.join(tmp, name)
            os.makedirs(os.path.dirname(dst) or tmp, exist_ok=True)
            with open(dst, "w", encoding="utf-8") as f:
                f.write(text)
        cmd = [sys.executable if c == "python" else c for c in cmd]
        proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=60)
        got = {}
        for name in read:
            path = os.path.join(tmp, name)
            got[name] = open(path, encoding="utf-8").read() if os.path.isfile(path) else None
        return proc, got
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
'''

FIRST_NAMES = [
    "Marta", "Jonas", "Ife", "Kenji", "Rosa", "Amir", "Lena", "Tomasz", "Priya", "Diego", "Sofia", "Omar",
    "Hana", "Viktor", "Nadia", "Felix", "Ayla", "Bruno", "Chloe", "Dmitri", "Elif", "Gustavo", "Ingrid",
    "Kofi", "Lucia", "Mateo", "Noor", "Oskar", "Paula", "Ravi", "Sven", "Tariq", "Uma", "Wen", "Yusuf", "Zara",
]
LAST_NAMES = [
    "Okafor", "Lindqvist", "Moreau", "Tanaka", "Silva", "Haddad", "Novak", "Rossi", "Kowalski", "Nguyen",
    "Schmidt", "Petrov", "Costa", "Byrne", "Yilmaz", "Mensah", "Larsen", "Duarte", "Ivanova", "Fischer",
]
CITIES = [
    "Lyon", "Porto", "Gdansk", "Osaka", "Leeds", "Tartu", "Bergen", "Graz", "Malaga", "Turin", "Ghent",
    "Brno", "Aarhus", "Cork", "Basel", "Split", "Lille", "Utrecht",
]
