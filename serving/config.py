"""ServerSettings: the chat API's own settings (env vars CASEBANK_*, or `casebank.toml`).

The case bank's settings (data dir, Chroma, embedder) stay in `casebank.config.Settings`; these are the
HTTP side: bind address, keys, limits, the LLM backend and the model profiles the API serves.

Lists take JSON or a comma-separated string: `CASEBANK_USER_KEYS=k1,k2`. Profiles take JSON:
`CASEBANK_PROFILES='{"casebank": {"strategy": "dense", "k": 4}, "mine": {"model": "my-lora", "k": 2}}'`.
"""

from __future__ import annotations

import ipaddress
import json
import os
import tomllib
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import NoDecode

from agent.config import DEFAULT_EPISODE_TIMEOUT_S, DEFAULT_MODEL
from casebank import envs
from casebank.config import Settings, Strategy, TomlAndEnvSettings
from casebank.config import data_dir as resolve_data_dir
from casebank.llm.endpoints import DEFAULT_LLM_URL, parse_urls


class Profile(BaseModel):
    """What one `model` name of the API means: which served model (a base model or a LoRA adapter that
    vLLM serves under its own name) and how cases are retrieved."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str | None = Field(None, description="Served model name at the LLM backend; None: ServerSettings.llm_model.")
    strategy: Strategy = "dense"
    k: int = Field(4, ge=0, le=50)
    description: str = ""


def ft_profiles() -> dict[str, Profile]:
    """The fine-tuned road: the LoRA adapter `casebank finetune` trains, which vLLM serves under the name
    casebank-ft (`casebank llm serve --lora casebank-ft=DIR`; `casebank serve --start-llm` adds it itself)."""
    from casebank.llm.adapters import ADAPTER_NAME

    return {
        "casebank-ft": Profile(model=ADAPTER_NAME, strategy="none", k=0,
                               description="The model fine-tuned on the seeds (LoRA adapter casebank-ft), no retrieved cases."),
        "casebank-ft-cases": Profile(model=ADAPTER_NAME, strategy="dense", k=4,
                                     description="The fine-tuned model plus 4 retrieved cases (dense)."),
    }


def adapter_note(data_dir: Path | None = None) -> tuple[bool, str]:
    """Whether a fine-tuned adapter exists (DATA_DIR/adapters/casebank-ft or the bundled one) and where, or why not."""
    from casebank.llm.adapters import find_adapter

    folder, note = find_adapter(resolve_data_dir(data_dir))
    return folder is not None, note


def absent_profile_reason(name: str) -> str | None:
    """Why a known profile is not offered (the fine-tuned ones without an adapter), or None."""
    if name not in ft_profiles():
        return None
    found, note = adapter_note()
    return None if found else f"the fine-tuned profiles are not offered: {note}"


def default_profiles() -> dict[str, Profile]:
    """The three in-context profiles, and the two fine-tuned ones when an adapter exists to serve."""
    profiles = {
        "casebank": Profile(strategy="dense", k=4, description="Retrieves 4 solved cases (dense)."),
        "casebank-hybrid": Profile(strategy="hybrid", k=4, description="Retrieves 4 solved cases (hybrid BM25 + dense)."),
        "casebank-nocases": Profile(strategy="none", k=0, description="No retrieved cases: the bare model."),
    }
    if adapter_note()[0]:
        profiles.update(ft_profiles())
    return profiles


StrList = Annotated[list[str], NoDecode]

# Every CASEBANK_*KEY* variable casebank reads. Any other one is a start-up error: a misspelt key
# variable must not leave the API open while its operator believes it is locked.
KEY_VARIABLES = {
    "CASEBANK_USER_KEYS": "user keys of the API",
    "CASEBANK_ADMIN_KEYS": "admin keys of the API",
    "CASEBANK_LLM_API_KEY": "the key the API sends to the LLM backend",
    "CASEBANK_API_KEY": "the key `casebank chat` sends to the API",
}
TOML_KEY_ENTRIES = {"user_keys", "admin_keys", "llm_api_key"}
RENAMED = {"CASEBANK_API_KEYS": "CASEBANK_USER_KEYS", "CASEBANK_ADMIN_KEY": "CASEBANK_ADMIN_KEYS",
           "CASEBANK_USER_KEY": "CASEBANK_USER_KEYS"}


def unknown_key_variables(variables: dict[str, str] | None = None) -> list[str]:
    """One message per CASEBANK_*KEY* variable (or `*key*` entry of casebank.toml) that casebank does not read
    (`variables`: the CASEBANK_* environment, casebank.envs.prefixed() by default)."""
    variables = envs.prefixed() if variables is None else dict(variables)
    problems = []
    toml_file = Path(variables.get("CASEBANK_CONFIG", envs.VARIABLES["CASEBANK_CONFIG"].default))
    if toml_file.is_file():
        try:
            entries = tomllib.loads(toml_file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            entries = {}  # the settings source reports a broken file itself
        for entry in sorted(entries):
            if "key" in entry.lower() and entry.lower() not in TOML_KEY_ENTRIES:
                problems.append(f"{toml_file}: unknown entry {entry!r}: the key entries are user_keys, admin_keys, llm_api_key")
    for name in sorted(variables):
        upper = name.upper()  # pydantic-settings reads the environment case-insensitively
        if not upper.startswith("CASEBANK_") or "KEY" not in upper or upper in KEY_VARIABLES:
            continue
        hint = f"use {RENAMED[upper]}" if upper in RENAMED else "the key variables are " + ", ".join(
            f"{var} ({what})" for var, what in KEY_VARIABLES.items())
        problems.append(f"unknown variable {name}: {hint}")
    return problems


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name other than localhost may resolve to anything
        return False


class ServerSettings(TomlAndEnvSettings):

    host: str = Field("127.0.0.1", description="The API's bind address (a non-loopback one needs keys).")
    port: int = Field(8000, ge=0, le=65535, description="The API's port.")

    # ---- auth: when any key is set, every request but /healthz needs `Authorization: Bearer <key>` ----
    user_keys: StrList = Field(default_factory=list, description="User keys: chat, feedback, read the bank.")
    admin_keys: StrList = Field(default_factory=list, description="Admin keys: all a user key can, plus add and delete "
                                "cases and read the quarantine.")
    insecure_no_auth: bool = Field(False, description="Allow binding a non-loopback host without keys.")
    cors_origins: StrList = Field(default_factory=list, description="Allowed browser origins; empty: CORS off.")

    # ---- limits ----
    max_body_bytes: int = Field(1_000_000, gt=0, description="Request bodies above this get 413.")
    max_messages: int = Field(256, gt=0, description="Messages per chat request.")
    max_message_chars: int = Field(32_000, gt=0, description="Characters per message.")
    max_steps: int = Field(15, ge=1, description="Model calls per chat turn (the default, and the cap on requests).")
    max_tokens: int = Field(1024, gt=0, description="Completion tokens per model call (the default, and the cap).")
    episode_timeout_s: float = Field(DEFAULT_EPISODE_TIMEOUT_S, gt=0, description="Wall-clock safety net of one chat turn (as for tasks).")
    workers: int = Field(32, ge=1, description="Threads running agent turns concurrently.")

    # ---- the LLM backend (vLLM's OpenAI-compatible server) ----
    llm_url: str = Field(DEFAULT_LLM_URL, description="One base URL, or several comma-separated: chat turns "
                         "go to the least busy live one (casebank.llm.endpoints).")
    llm_model: str = Field(DEFAULT_MODEL, description="Served model name used by profiles that name none.")
    llm_api_key: str = Field("EMPTY", description="The key sent to the LLM backend (vLLM's --api-key).")
    llm_connect_timeout_s: float = Field(1.0, gt=0, description="A backend that does not accept within this is down.")
    llm_request_timeout_s: float = Field(300.0, gt=0, description="One model call's timeout.")
    first_token_timeout_s: float = Field(30.0, gt=0, description="A chat turn whose first model reply is not back within "
                                         "this, from a backend that then fails a GET /models probe, gets 504.")
    llm_max_retries: int = Field(0, ge=0, le=10, description="0: a down backend gives 503 at once.")
    ready_timeout_s: float = Field(1.0, gt=0, description="Timeout of /readyz's probes.")

    profiles: dict[str, Profile] = Field(default_factory=default_profiles, description="The API's models (JSON): name -> "
                                         "{model, strategy, k, ...}; default: the built-in profiles.")

    # ---- replicas (docs/scale.md) ----
    sticky_routing: bool = Field(False, description="The load balancer sends each X-Conversation-Id to one replica, so "
                                 "workspaces may stay on local disk while conversations live in Postgres.")

    @field_validator("user_keys", "admin_keys", "cors_origins", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("llm_url")
    @classmethod
    def _urls(cls, value: str) -> str:
        return ",".join(parse_urls(value))

    @field_validator("profiles")
    @classmethod
    def _some_profile(cls, profiles: dict[str, Profile]) -> dict[str, Profile]:
        if not profiles:
            raise ValueError("at least one profile is needed")
        return profiles

    @model_validator(mode="after")
    def _safe_to_serve(self) -> ServerSettings:
        problems = unknown_key_variables()
        if not self.auth_enabled and not self.insecure_no_auth and not is_loopback(self.host):
            problems.append(f"host {self.host} is not a loopback address and no key is set: set CASEBANK_USER_KEYS and/or "
                            "CASEBANK_ADMIN_KEYS, or pass --insecure-no-auth (CASEBANK_INSECURE_NO_AUTH=1) to serve it open")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def auth_enabled(self) -> bool:
        return bool(self.user_keys or self.admin_keys)

    def served_model(self, profile: Profile) -> str:
        return profile.model or self.llm_model

    @property
    def llm_urls(self) -> list[str]:
        return self.llm_url.split(",")


def replica_problems(settings: ServerSettings, bank_settings: Settings) -> list[str]:
    """Why this process must not serve as one of several replicas. With conversations in Postgres, a
    conversation's next turn may reach another replica, which must find the workspace: the workspaces
    must be on a shared path (CASEBANK_WORKSPACE_ROOT), or the load balancer must be sticky."""
    if not bank_settings.checkpoint_url or settings.sticky_routing or bank_settings.workspace_root is not None:
        return []
    return [f"conversations are in Postgres (CASEBANK_CHECKPOINT_URL), so any replica may continue one, but chat "
            f"workspaces are on this machine's disk ({bank_settings.data_dir / 'workspaces'}): set CASEBANK_WORKSPACE_ROOT "
            "to a path every replica mounts, or, if the load balancer routes each X-Conversation-Id to one replica, "
            "set CASEBANK_STICKY_ROUTING=1 (docs/scale.md)"]


def workspace_note(bank_settings: Settings) -> str | None:
    """A note when the shared workspace root is on a local file system: right for replicas on this machine
    only. (The root's file system type is read from /proc/self/mountinfo; None elsewhere.)"""
    root = bank_settings.workspace_root
    if root is None or not bank_settings.checkpoint_url:
        return None
    fstype = mount_fstype(root)
    if fstype is None or fstype.split(".")[0] in NETWORK_FS:
        return None
    return (f"CASEBANK_WORKSPACE_ROOT {root} is on a local file system ({fstype}): replicas on other machines will not "
            "see its workspaces unless they mount it")


NETWORK_FS = {"nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph", "glusterfs", "fuse", "9p", "virtiofs", "lustre", "gpfs",
              "beegfs", "ocfs2", "gfs2", "afs", "orangefs"}


def mount_fstype(path: Path) -> str | None:
    """The file system type of the mount holding `path` (Linux), or None when it cannot be told."""
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return None
    target = Path(os.path.abspath(path))
    while not target.exists() and target != target.parent:
        target = target.parent
    target = target.resolve()
    best: tuple[int, str] | None = None
    for line in lines:
        fields = line.split()
        if "-" not in fields:
            continue
        mount_point = Path(fields[4].replace("\\040", " "))
        fstype = fields[fields.index("-") + 1]
        if target == mount_point or mount_point in target.parents:
            depth = len(mount_point.parts)
            if best is None or depth >= best[0]:
                best = (depth, fstype)
    return best[1] if best else None
