"""Prompt templates live in files beside this module, not in code."""

from functools import cache
from importlib.resources import files


@cache
def load(name: str) -> str:
    return files(__package__).joinpath(name).read_text(encoding="utf-8").strip()
