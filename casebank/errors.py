"""The errors casebank raises on purpose, in one hierarchy (as httpx's `_exceptions.py`), and the one rule
that tells what an error from the LLM client means.

    CasebankError
    ├── BankError        the case bank: case text, case files, the bank's store
    ├── SandboxError     the sandbox: a path outside the workspace, a mode that cannot run, a failed tool
    ├── LLMError         the model: its files, adapters, the vLLM process, a server that cannot be used
    ├── TaskError        tasks and their runs: task files, checkpoints, a broken environment
    ├── LabError         the lab's inputs: grids, reports, fine-tune configs, generators, pools, curation
    └── serving.errors.APIError   an HTTP error answer of the API

A TaskFileError is a TaskError and, being a CaseFileError (the same `file:line: field` format), a BankError too.
Each concrete class sits in the module that raises it and keeps the builtin base its callers catch
(`ValueError` for bad input, `RuntimeError` for a broken environment), so `except ValueError` still works.
`except CasebankError` catches every error of the project, and nothing else.
"""

from __future__ import annotations

from typing import Literal

LLMErrorKind = Literal["unreachable", "retry", "fatal"]


class CasebankError(Exception):
    """Base of every error the project raises on purpose."""


class BankError(CasebankError):
    """The case bank: text a case may not hold, a case file that does not parse, a store that cannot be used."""


class SandboxError(CasebankError):
    """The sandbox: a path that leaves the workspace, a mode that cannot run here, a tool call that failed."""


class LLMError(CasebankError):
    """The model and its server: model files, adapters, the vLLM process, a server that refuses the run."""


class TaskError(CasebankError):
    """Tasks and the runs on them: a task file, the conversation checkpoints, an environment that fails every task."""


class LabError(CasebankError):
    """The lab's inputs and outputs: grids, reports, fine-tune configs, task generators, pools and curation."""


def classify_llm_error(error: BaseException) -> LLMErrorKind | None:
    """What an exception from the OpenAI-compatible client says about the LLM server, for everyone who talks to
    it (the API's endpoint failover, the ablation runner's retries):

    - "unreachable": the client could not reach the LLM server, or lost it (another server may answer; not a
      slow reply). Only openai's own connection error says so: the client wraps its transport's errors in it, so
      a raw httpx or socket error comes from something else the caller talks to (the bank's Chroma server);
    - "retry": a timeout, a 5xx, a 429, or a raw transport error (the next try may pass);
    - "fatal": 401, 403 or 404 (wrong key, model or URL: every request would meet it);
    - None: not an error of the LLM client (the caller's own defect, say).
    """
    import httpx
    import openai

    if isinstance(error, openai.APITimeoutError):  # a subclass of APIConnectionError, but the server is there
        return "retry"
    if isinstance(error, openai.APIConnectionError):
        return "unreachable"
    if isinstance(error, (openai.InternalServerError, openai.RateLimitError, httpx.TransportError, ConnectionError)):
        return "retry"
    if isinstance(error, (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError)):
        return "fatal"
    return None
