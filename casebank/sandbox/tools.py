"""The agent's tools over one workspace, as OpenAI function schemas plus their executor.

Every failure a model can cause (bad JSON, a missing argument, a path outside the workspace, an unknown
tool) comes back as an error observation, never as an exception: the model sees it and can recover.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from casebank.errors import SandboxError
from casebank.models import ToolSpec
from casebank.sandbox.isolation import Limits, RunResult, prepare_workspace, run_isolated
from casebank.sandbox.paths import MAX_COMPONENTS, PathEscapeError, open_in_workspace, resolve_in_workspace

MAX_LIST_ENTRIES = 200
SKIP_DIRS = {"__pycache__", ".pytest_cache", ".git"}


def _tool(name: str, description: str, properties: dict[str, Any], required: list[str]) -> ToolSpec:
    return ToolSpec.model_validate(
        {
            "type": "function",
            "function": {
                "name": name,
                "description": description,
                "parameters": {"type": "object", "properties": properties, "required": required},
            },
        }
    )


_STR = {"type": "string"}
TOOLS: list[ToolSpec] = [
    _tool("list_files", "List files under a directory of the workspace (recursive).", {"path": _STR}, []),
    _tool("read_file", "Read a text file from the workspace.", {"path": _STR}, ["path"]),
    _tool("write_file", "Create or overwrite a text file in the workspace.", {"path": _STR, "content": _STR}, ["path", "content"]),
    _tool(
        "edit_file",
        "Replace one exact occurrence of `old` with `new` in a workspace file.",
        {"path": _STR, "old": _STR, "new": _STR},
        ["path", "old", "new"],
    ),
    _tool("run", "Run a shell command in the workspace; returns exit code and output.", {"command": _STR}, ["command"]),
    _tool(
        "submit",
        "Finish the task.",
        {"summary": {"type": "string", "description": "Your final answer: the answer to the question, or what you changed and what it printed."}},
        ["summary"],
    ),
]
TOOL_NAMES = [t.function.name for t in TOOLS]


def tool_schemas() -> list[dict[str, Any]]:
    """The tools as OpenAI function schemas (plain dicts), as the model client binds them."""
    return [t.model_dump(mode="json", exclude_none=True) for t in TOOLS]


class ToolError(SandboxError):
    """A tool call the model got wrong; its message becomes the observation."""


@dataclass(frozen=True)
class ToolResult:
    content: str
    ok: bool = True
    submitted: bool = False
    summary: str | None = None


class Workspace:
    """A fresh directory for one episode, holding the task's files; removed on close."""

    def __init__(self, root: Path, limits: Limits | None = None):
        self.root = root
        self.limits = limits or Limits()

    @classmethod
    def create(cls, files: dict[str, str] | None = None, limits: Limits | None = None, parent: Path | None = None) -> Workspace:
        root = Path(tempfile.mkdtemp(prefix="casebank-ws-", dir=parent))
        workspace = cls(root, limits)
        for rel, text in (files or {}).items():
            path = workspace.path(rel)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        prepare_workspace(root)
        return workspace

    def path(self, rel: str) -> Path:
        return resolve_in_workspace(self.root, rel)

    @contextlib.contextmanager
    def open(self, rel: str, flags: int, *, make_dirs: bool = False) -> Iterator[int]:
        """A descriptor for a model-given path that never went through a symlink (paths.open_in_workspace);
        the file errors a model can cause become ToolErrors."""
        try:
            fd = open_in_workspace(self.root, rel, flags, make_dirs=make_dirs)
        except FileNotFoundError:
            raise ToolError(f"no such file: {rel}") from None
        except IsADirectoryError:
            raise ToolError(f"is a directory: {rel}") from None
        except NotADirectoryError:
            raise ToolError(f"not a directory: {rel}") from None
        except OSError as e:
            raise ToolError(f"cannot open {rel}: {e.strerror or e}") from None
        try:
            yield fd
        finally:
            os.close(fd)

    def run(self, command: str, timeout_s: float | None = None) -> RunResult:
        limits = self.limits
        if timeout_s is not None:
            limits = Limits(**{**limits.__dict__, "wall_timeout_s": timeout_s})
        return run_isolated(command, self.root, limits)

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def parse_arguments(arguments: str | dict[str, Any] | None) -> dict[str, Any]:
    if isinstance(arguments, dict):
        return arguments
    try:
        value = json.loads(arguments or "{}")
    except json.JSONDecodeError as e:
        raise ToolError(f"arguments are not valid JSON ({e.msg} at column {e.colno})") from None
    if not isinstance(value, dict):
        raise ToolError("arguments must be a JSON object")
    return value


def format_run(result: RunResult, timeout_s: float) -> str:
    head = f"timed out after {timeout_s:g}s" if result.timed_out else f"exit code: {result.exit_code}"
    return f"{head}\n{result.output}" if result.output else head


class ToolExecutor:
    """Executes one tool call in a workspace and renders the observation text."""

    def __init__(self, workspace: Workspace):
        self.workspace = workspace

    def call(self, name: str, arguments: str | dict[str, Any] | None) -> ToolResult:
        try:
            args = parse_arguments(arguments)
            handler = getattr(self, f"_tool_{name}", None) if name in TOOL_NAMES else None
            if handler is None:
                raise ToolError(f"unknown tool {name!r}; available tools: {', '.join(TOOL_NAMES)}")
            return handler(**self._required(name, args))
        except ToolError as e:
            return ToolResult(f"error: {e}", ok=False)
        except PathEscapeError as e:
            return ToolResult(f"error: {e}", ok=False)

    @staticmethod
    def _required(name: str, args: dict[str, Any]) -> dict[str, Any]:
        spec = next(t for t in TOOLS if t.function.name == name)
        properties = spec.function.parameters["properties"]
        missing = [r for r in spec.function.parameters["required"] if r not in args]
        if missing:
            raise ToolError(f"{name} needs argument(s): {', '.join(missing)}")
        unknown = sorted(set(args) - set(properties))
        if unknown:
            raise ToolError(f"{name} got unknown argument(s): {', '.join(unknown)}")
        for key, value in args.items():
            if not isinstance(value, str):
                raise ToolError(f"{name}: argument {key!r} must be a string")
        return args

    def _tool_list_files(self, path: str = ".") -> ToolResult:
        with self.workspace.open(path, os.O_RDONLY | os.O_DIRECTORY) as fd:
            entries: list[str] = []
            _list_tree(fd, "", 1, entries)
        entries.sort()
        shown = entries[:MAX_LIST_ENTRIES]
        more = f"\n[... {len(entries) - len(shown)} more files ...]" if len(entries) > len(shown) else ""
        return ToolResult("\n".join(shown) + more if shown else "(no files)")

    def _tool_read_file(self, path: str) -> ToolResult:
        cap = self.workspace.limits.max_output_bytes
        with self.workspace.open(path, os.O_RDONLY) as fd:
            size = os.fstat(fd).st_size
            data = _read_up_to(fd, cap)
        text = data.decode("utf-8", errors="replace")
        if size > len(data):
            text += f"\n[... file truncated: {size - len(data)} bytes omitted ...]\n"
        return ToolResult(text)

    def _tool_write_file(self, path: str, content: str) -> ToolResult:
        data = content.encode("utf-8")
        if len(data) > self.workspace.limits.max_file_bytes:
            raise ToolError(f"file too large ({len(data)} bytes; limit {self.workspace.limits.max_file_bytes})")
        with self.workspace.open(path, os.O_WRONLY | os.O_CREAT, make_dirs=True) as fd:
            os.ftruncate(fd, 0)  # only now: the open refused a hard link or a symlink, which O_TRUNC would have cut first
            _write_all(fd, data)
        prepare_workspace(self.workspace.root)
        return ToolResult(f"wrote {len(data)} bytes to {path}")

    def _tool_edit_file(self, path: str, old: str, new: str) -> ToolResult:
        if old == new:  # a small model "fixes" code this way, then loops edit/run on an unchanged file
            raise ToolError(f"`old` and `new` are the same text: {path} would not change. Write the corrected text in `new`.")
        with self.workspace.open(path, os.O_RDWR) as fd:
            text = _read_up_to(fd, os.fstat(fd).st_size).decode("utf-8", errors="replace")
            count = text.count(old) if old else 0
            if count != 1:
                raise ToolError(f"`old` must occur exactly once in {path}; found {count} occurrences")
            os.ftruncate(fd, 0)
            _write_all(fd, text.replace(old, new, 1).encode("utf-8"), offset=0)
        return ToolResult(f"edited {path}")

    def _tool_run(self, command: str) -> ToolResult:
        result = self.workspace.run(command)
        return ToolResult(format_run(result, self.workspace.limits.wall_timeout_s), ok=result.exit_code == 0)

    def _tool_submit(self, summary: str) -> ToolResult:
        return ToolResult("submitted", submitted=True, summary=summary)


def _list_tree(dir_fd: int, prefix: str, depth: int, out: list[str]) -> None:
    """Regular files under a directory descriptor, and symlinks as `path -> target`, all alike:
    a link's target is read as text, never stat-ed, so a link to an existing host file and one to
    a missing file look the same (listing them must not tell the model what exists outside).
    Directories are entered with O_NOFOLLOW relative to their parent; no deeper than the tools
    accept paths."""
    with os.scandir(dir_fd) as it:
        entries = list(it)
    for entry in entries:
        rel = prefix + entry.name
        try:
            if entry.is_symlink():
                out.append(f"{rel} -> {os.readlink(entry.name, dir_fd=dir_fd)}")
            elif entry.is_dir(follow_symlinks=False):
                if entry.name in SKIP_DIRS or depth >= MAX_COMPONENTS:
                    continue
                sub = os.open(entry.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
                try:
                    _list_tree(sub, rel + "/", depth + 1, out)
                finally:
                    os.close(sub)
            elif entry.is_file(follow_symlinks=False):
                out.append(rel)
        except OSError:  # gone, or replaced since the directory was read
            continue


def _read_up_to(fd: int, limit: int) -> bytes:
    chunks, left = [], limit
    while left > 0:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes, offset: int | None = None) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view) if offset is None else os.pwrite(fd, view, offset)
        if offset is not None:
            offset += n
        view = view[n:]
