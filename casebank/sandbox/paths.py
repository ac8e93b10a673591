"""Safe resolution of model-given (untrusted) paths inside a per-episode workspace.

The model sees its workspace at the virtual path ``/workspace``.  Every path it hands to a
file tool goes through :func:`resolve_in_workspace`, which returns the *real* host path or
raises :class:`PathEscapeError`.

Only call this while no sandboxed command is running in the workspace (``run_isolated`` kills
every process of a command before it returns), otherwise a racing process could swap a
checked directory for a symlink between the check and the use.
"""

from __future__ import annotations

import os
import stat
import unicodedata
from pathlib import Path

__all__ = ["PathEscapeError", "resolve_in_workspace", "VIRTUAL_ROOT", "MAX_PATH_CHARS"]

VIRTUAL_ROOT = "/workspace"
MAX_PATH_CHARS = 1024      # whole model-given path
MAX_COMPONENT_BYTES = 255  # NAME_MAX on Linux filesystems
MAX_COMPONENTS = 64


class PathEscapeError(ValueError):
    """A model-given path is invalid or would leave the workspace."""

    def __init__(self, path: object, reason: str) -> None:
        shown = repr(path)
        if len(shown) > 200:
            shown = shown[:200] + "...'"
        super().__init__(f"refused path {shown}: {reason}")
        self.path = path
        self.reason = reason


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _check_chars(rel: str) -> None:
    if "\x00" in rel:
        raise PathEscapeError(rel, "contains a NUL byte")
    if len(rel) > MAX_PATH_CHARS:
        raise PathEscapeError(rel, f"longer than {MAX_PATH_CHARS} characters")
    for ch in rel:
        cat = unicodedata.category(ch)
        # Cc: control chars (newlines, escapes), Cf: invisible format chars (bidi overrides,
        # zero-width joiners), Cs: lone surrogates (undecodable bytes), Co/Cn: private/unassigned.
        if cat in ("Cc", "Cf", "Cs", "Co", "Cn"):
            raise PathEscapeError(rel, f"contains a disallowed character U+{ord(ch):04X}")


def resolve_in_workspace(root: Path, rel: str) -> Path:
    """Resolve a model-given path inside ``root``.

    Accepts relative paths and absolute paths under the virtual root ``/workspace`` (which maps
    to ``root``).  Rejects: ``..`` escaping root, other absolute paths, any existing symlink
    component that points outside root, NUL bytes, control/invisible characters, over-long
    paths, and existing final targets that are not regular files or directories (FIFOs,
    sockets, devices) or are hard links (link count > 1; could alias a file outside root).
    Returns the real (symlink-free) host path; the final component need not exist.
    """
    if not isinstance(rel, str):
        raise PathEscapeError(rel, "path must be a string")
    _check_chars(rel)
    root_real = os.path.realpath(os.fspath(root))
    if not os.path.isdir(root_real):
        raise PathEscapeError(rel, "workspace root does not exist")

    if rel.startswith("/"):
        if rel == VIRTUAL_ROOT or rel.startswith(VIRTUAL_ROOT + "/"):
            rel = rel[len(VIRTUAL_ROOT):]
        else:
            raise PathEscapeError(rel, f"absolute paths must be under {VIRTUAL_ROOT}")
    original = rel
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if len(parts) > MAX_COMPONENTS:
        raise PathEscapeError(original, f"more than {MAX_COMPONENTS} path components")

    cur = root_real
    for part in parts:
        if len(part.encode("utf-8")) > MAX_COMPONENT_BYTES:
            raise PathEscapeError(original, "path component too long")
        if part == "..":
            if cur == root_real:
                raise PathEscapeError(original, "'..' leaves the workspace")
            cur = os.path.dirname(cur)  # cur is always symlink-free, so this is exact
            continue
        nxt = os.path.join(cur, part)
        try:
            st = os.lstat(nxt)
        except FileNotFoundError:
            cur = nxt
            continue
        except OSError as exc:
            raise PathEscapeError(original, f"cannot inspect path: {exc.strerror}") from None
        if stat.S_ISLNK(st.st_mode):
            real = os.path.realpath(nxt)
            if not _within(real, root_real):
                raise PathEscapeError(original, "symlink points outside the workspace")
            cur = real
        else:
            cur = nxt
    if not _within(cur, root_real):  # defensive; cannot happen by construction
        raise PathEscapeError(original, "resolves outside the workspace")

    try:
        st = os.lstat(cur)
    except OSError:
        return Path(cur)
    if stat.S_ISLNK(st.st_mode):  # unresolvable (looping) symlink
        raise PathEscapeError(original, "symlink cannot be resolved")
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        raise PathEscapeError(original, "not a regular file or directory")
    if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
        raise PathEscapeError(original, "file has several hard links (may alias a file outside)")
    return Path(cur)
