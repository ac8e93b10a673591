"""ServerSettings: the chat API's own settings (env vars CASEBANK_*, or `casebank.toml`).

The case bank's settings (data dir, Chroma, embedder) stay in `casebank.config.Settings`; these are the
HTTP side: bind address, keys, limits, the LLM backend and the model profiles the API serves.

Lists take JSON or a comma-separated string: `CASEBANK_API_KEYS=k1,k2`. Profiles take JSON:
`CASEBANK_PROFILES='{"casebank": {"strategy": "hybrid", "k": 4}, "mine": {"model": "my-lora", "k": 2}}'`.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import NoDecode

from agent.config import DEFAULT_MODEL
from casebank.config import Strategy, TomlAndEnvSettings


class Profile(BaseModel):
    """What one `model` name of the API means: which served model (a base model or a LoRA adapter that
    vLLM serves under its own name) and how cases are retrieved."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str | None = Field(None, description="Served model name at the LLM backend; None: ServerSettings.llm_model.")
    strategy: Strategy = "hybrid"
    k: int = Field(4, ge=0, le=50)
    description: str = ""


def default_profiles() -> dict[str, Profile]:
    return {
        "casebank": Profile(strategy="hybrid", k=4, description="Retrieves 4 solved cases (hybrid BM25 + dense)."),
        "casebank-dense": Profile(strategy="dense", k=4, description="Retrieves 4 solved cases (dense only)."),
        "casebank-nocases": Profile(strategy="none", k=0, description="No retrieved cases: the bare model."),
    }


StrList = Annotated[list[str], NoDecode]


class ServerSettings(TomlAndEnvSettings):

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)

    # ---- auth: when any key is set, every request but /healthz needs `Authorization: Bearer <key>` ----
    api_keys: StrList = Field(default_factory=list, description="User keys: chat, feedback, read cases.")
    admin_keys: StrList = Field(default_factory=list, description="Admin keys: also add and delete cases.")
    cors_origins: StrList = Field(default_factory=list, description="Allowed browser origins; empty: CORS off.")

    # ---- limits ----
    max_body_bytes: int = Field(1_000_000, gt=0, description="Request bodies above this get 413.")
    max_messages: int = Field(256, gt=0, description="Messages per chat request.")
    max_message_chars: int = Field(32_000, gt=0, description="Characters per message.")
    max_steps: int = Field(15, ge=1, description="Model calls per chat turn (the default, and the cap on requests).")
    max_tokens: int = Field(1024, gt=0, description="Completion tokens per model call (the default, and the cap).")
    episode_timeout_s: float = Field(600.0, gt=0, description="Wall-clock limit of one chat turn.")
    workers: int = Field(32, ge=1, description="Threads running agent turns concurrently.")

    # ---- the LLM backend (vLLM's OpenAI-compatible server) ----
    llm_url: str = "http://127.0.0.1:8001/v1"
    llm_model: str = Field(DEFAULT_MODEL, description="Served model name used by profiles that name none.")
    llm_api_key: str = "EMPTY"
    llm_connect_timeout_s: float = Field(1.0, gt=0, description="A backend that does not accept within this is down.")
    llm_request_timeout_s: float = Field(300.0, gt=0)
    llm_max_retries: int = Field(0, ge=0, le=10, description="0: a down backend gives 503 at once.")
    ready_timeout_s: float = Field(1.0, gt=0, description="Timeout of /readyz's probes.")

    profiles: dict[str, Profile] = Field(default_factory=default_profiles)

    @field_validator("api_keys", "admin_keys", "cors_origins", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("profiles")
    @classmethod
    def _some_profile(cls, profiles: dict[str, Profile]) -> dict[str, Profile]:
        if not profiles:
            raise ValueError("at least one profile is needed")
        return profiles

    @property
    def auth_enabled(self) -> bool:
        return bool(self.api_keys or self.admin_keys)

    def served_model(self, profile: Profile) -> str:
        return profile.model or self.llm_model
