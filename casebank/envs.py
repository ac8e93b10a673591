"""Every environment variable casebank reads, in one module (as vLLM's `envs.py`): the only place where the
process environment is consulted for a `CASEBANK_*` name.

Two kinds:
- the settings: each field of a settings class (`casebank.config.Settings`, `serving.config.ServerSettings`:
  subclasses of `TomlAndEnvSettings`, which register here) is read as `CASEBANK_<FIELD>`, or from the
  TOML file; their environment comes from `prefixed()`, their types, defaults and descriptions from the fields;
- the variables below (`VARIABLES`), read before any settings exist or by one command only.

`casebank env` prints them all, and `casebank env --markdown` writes docs/env.md, which a test keeps equal to
this registry. What the libraries we start read (Hugging Face's offline switches and the like) is set by
`offline_libraries()` where they are started, not at import.
"""

from __future__ import annotations

import os
import types
import typing
from dataclasses import dataclass
from typing import Any

PREFIX = "CASEBANK_"


@dataclass(frozen=True)
class Variable:
    name: str
    type: str
    default: str
    doc: str
    source: str = "variable"  # or the settings class whose field it is


VARIABLES: dict[str, Variable] = {
    v.name: v
    for v in (
        Variable("CASEBANK_CONFIG", "path", "casebank.toml",
                 "The TOML file of settings (entries: the settings' names in lower case, without the prefix)."),
        Variable("CASEBANK_SANDBOX", "auto | bwrap | basic", "auto",
                 "The sandbox mode: bwrap (bubblewrap namespaces), basic (a throw-away uid and rlimits), or auto: bwrap "
                 "when its probe passes, else basic."),
        Variable("CASEBANK_API_KEY", "str", "",
                 "The key `casebank chat` sends to the API (one of its user or admin keys)."),
    )
}

# Settings classes, registered by casebank.config.TomlAndEnvSettings.__init_subclass__, in definition order.
SETTINGS_CLASSES: list[type] = []

# What the Hugging Face and Chroma libraries read when they start: nothing in casebank downloads from a model
# hub at run time (weights come from local packages), and no telemetry leaves the machine.
LIBRARY_DEFAULTS = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "ANONYMIZED_TELEMETRY": "False",
}


def get(name: str) -> str:
    """A registered variable's value, or its default. An unregistered name is a KeyError: register it first."""
    return os.environ.get(name, VARIABLES[name].default)


def prefixed() -> dict[str, str]:
    """Every set variable whose name starts with CASEBANK_ (any case: pydantic-settings matches names
    case-insensitively), as set: the settings classes' environment, and what the unknown-name checks scan."""
    return {k: v for k, v in os.environ.items() if k.upper().startswith(PREFIX)}


def setting(field: str) -> str | None:
    """The raw environment value of a settings field (CASEBANK_<FIELD>), for the few places that need a value
    without building the settings (a settings file that does not parse)."""
    wanted = PREFIX + field.upper()
    return next((v for k, v in prefixed().items() if k.upper() == wanted), None)


def offline_libraries() -> None:
    """Set LIBRARY_DEFAULTS (where the user has not) before a hub-backed library is imported or a Chroma client
    made; huggingface_hub reads its switches when it is first imported."""
    for name, value in LIBRARY_DEFAULTS.items():
        os.environ.setdefault(name, value)


def _type_name(annotation: Any) -> str:
    """A field's type as a reader writes it: `int`, `str | None`, `none | random | ...` for a Literal."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return " | ".join(str(a) for a in args)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in args)
    if origin is not None:
        return getattr(origin, "__name__", str(origin)) + "[" + ", ".join(_type_name(a) for a in args) + "]"
    if annotation is type(None):
        return "None"
    return getattr(annotation, "__name__", str(annotation))


def _default(field: Any) -> str:
    """A scalar default as text; "" for none, and for a structured one (its description says what it holds)."""
    value = field.default_factory() if field.default_factory is not None else field.default
    if value is None or isinstance(value, (dict, list, tuple, set)):
        return ""
    return str(value)


def rows() -> list[Variable]:
    """One row per variable: the registered ones, then each settings class's fields."""
    out = list(VARIABLES.values())
    for cls in SETTINGS_CLASSES:
        for name, field in cls.model_fields.items():  # type: ignore[attr-defined]
            out.append(Variable(PREFIX + name.upper(), _type_name(field.annotation), _default(field),
                                field.description or "", cls.__name__))
    return out


def markdown() -> str:
    """docs/env.md: the table of every variable, generated from this registry."""
    lines = [
        "# Environment variables",
        "",
        "Generated by `casebank env --markdown > docs/env.md` from `casebank/envs.py` (tests/test_envs.py keeps the",
        "two equal). A settings field may also come from the TOML file (`CASEBANK_CONFIG`), under its name in",
        "lower case without the prefix; the environment wins.",
        "",
        "| variable | type | default | read by | what it does |",
        "|---|---|---|---|---|",
    ]
    for r in rows():
        default = f"`{r.default}`" if r.default else ""
        lines.append(f"| `{r.name}` | {r.type.replace('|', '&#124;')} | {default.replace('|', '&#124;')} | {r.source} | "
                     f"{r.doc.replace('|', '&#124;')} |")
    return "\n".join(lines) + "\n"
