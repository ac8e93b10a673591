"""`casebank finetune`'s settings (casebank.llm.recipe.FinetuneConfig) from a preset, a YAML file and flags (in that order).

A preset is a YAML file under `lab/finetune/presets/` (`cpu`, `gpu`); `--config FILE` is read on top
of it and flags on top of both. A bad file is refused as `file:line: field 'x': problem`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from casebank.errors import LabError
from casebank.llm.recipe import FinetuneConfig

PRESETS_DIR = Path(__file__).parent / "presets"


class ConfigError(LabError, ValueError):
    """A config file or flag is wrong; the message names the file, line and field."""


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))


def _key_lines(text: str) -> dict[str, int]:
    """Line of each top-level key of a YAML mapping, for error messages."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return {}
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {k.value: k.start_mark.line + 1 for k, _ in node.value if isinstance(k, yaml.ScalarNode)}


def read_yaml(path: Path) -> tuple[dict[str, Any], dict[str, int]]:
    """The mapping in `path` and the line of each key."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read: {e}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise ConfigError(f"{path}:{mark.line + 1 if mark else 1}: invalid YAML: {getattr(e, 'problem', e)}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: field '<file>': expected a mapping of settings, got {type(data).__name__}")
    return data, _key_lines(text)


def load_config(preset: str | None = "cpu", file: Path | None = None, overrides: dict[str, Any] | None = None) -> FinetuneConfig:
    """Preset, then file, then flags (`overrides`, None values ignored). Errors name where the bad value came from."""
    layers: list[tuple[str, dict[str, Any], dict[str, int]]] = []
    if preset is not None:
        path = PRESETS_DIR / f"{preset}.yaml"
        if not path.is_file():
            raise ConfigError(f"unknown preset {preset!r}; presets: {', '.join(preset_names())}")
        data, lines = read_yaml(path)
        layers.append((str(path), {**data, "preset": preset}, lines))
    if file is not None:
        data, lines = read_yaml(Path(file))
        layers.append((str(file), data, lines))
    if overrides:
        layers.append(("<flags>", {k: v for k, v in overrides.items() if v is not None}, {}))
    merged: dict[str, Any] = {}
    for _, data, _ in layers:
        merged.update(data)
    try:
        return FinetuneConfig.model_validate(merged)
    except ValidationError as e:
        first = e.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "<config>"
        top = str(first["loc"][0]) if first["loc"] else ""
        where = next(((src, lines) for src, data, lines in reversed(layers) if top in data), (layers[-1][0] if layers else "<config>", {}))
        src, lines = where
        line = f":{lines[top]}" if top in lines else ""
        raise ConfigError(f"{src}{line}: field '{field}': {first['msg'].removeprefix('Value error, ')}") from None


def dump_config(config: FinetuneConfig) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
