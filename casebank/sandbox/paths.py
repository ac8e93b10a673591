"""Safe resolution of model-given (untrusted) paths inside a per-episode workspace.

The model sees its workspace at the virtual path ``/workspace``.  Every path it hands to a
file tool goes through :func:`resolve_in_workspace`, which returns the *real* host path or
raises :class:`PathEscapeError`.

The file tools open what it returns through :func:`open_in_workspace`, which walks the checked
path again with O_NOFOLLOW at every step: a process that swaps a checked directory for a
symlink between the check and the use (which ``run_isolated`` prevents anyway, by killing every
process of a command before it returns) makes the open fail instead of escaping.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import unicodedata
from pathlib import Path

from casebank.errors import SandboxError

__all__ = ["PathEscapeError", "resolve_in_workspace", "open_in_workspace", "VIRTUAL_ROOT", "MAX_PATH_CHARS"]

VIRTUAL_ROOT = "/workspace"
MAX_PATH_CHARS = 1024      # whole model-given path
MAX_COMPONENT_BYTES = 255  # NAME_MAX on Linux filesystems
MAX_COMPONENTS = 64
MAX_SYMLINKS = 40  # the kernel's own limit (ELOOP)


class PathEscapeError(SandboxError, ValueError):
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
    to ``root``).  Rejects: ``..`` escaping root, other absolute paths, any symlink whose target
    leaves root, NUL bytes, control/invisible characters, over-long paths, and existing final
    targets that are not regular files or directories (FIFOs, sockets, devices) or are hard links
    (link count > 1; could alias a file outside root).
    Returns the real (symlink-free) host path; the final component need not exist.

    Symlinks are read and spliced in by hand, never followed by the OS, and nothing outside root
    is ever looked at: whether a link's target exists on the host makes no difference to the
    answer.  A target under ``/workspace`` (what a command inside the sandbox sees) or under the
    host path of root counts as inside.
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
    for part in parts:
        if len(part.encode("utf-8")) > MAX_COMPONENT_BYTES:
            raise PathEscapeError(original, "path component too long")

    cur = os.path.join(root_real, *_walk(root_real, parts, original))
    try:
        st = os.lstat(cur)
    except OSError:
        return Path(cur)
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        raise PathEscapeError(original, "not a regular file or directory")
    if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
        raise PathEscapeError(original, "file has several hard links (may alias a file outside)")
    return Path(cur)


def _link_inside(target: str, root_real: str) -> list[str] | None:
    """The components, below root, of an absolute symlink target; None when it points elsewhere."""
    for base in (root_real, VIRTUAL_ROOT):
        if _within(target, base):
            return target[len(base):].split("/")
    return None


def _walk(root_real: str, parts: list[str], original: str) -> list[str]:
    """The symlink-free components below root that ``parts`` lead to.  Only paths inside root are
    lstat-ed; a symlink's text is read with readlink and its components take its place."""
    todo = [(part, False) for part in reversed(parts)]  # (component, came from a symlink)
    done: list[str] = []
    links = 0
    while todo:
        part, from_link = todo.pop()
        if part in ("", "."):
            continue
        if part == "..":
            if not done:
                reason = "symlink points outside the workspace" if from_link else "'..' leaves the workspace"
                raise PathEscapeError(original, reason)
            done.pop()  # `done` has no symlink, so this is exact
            continue
        here = os.path.join(root_real, *done, part)
        try:
            st = os.lstat(here)
        except FileNotFoundError:
            done.append(part)
            continue
        except OSError as exc:
            raise PathEscapeError(original, f"cannot inspect path: {exc.strerror}") from None
        if not stat.S_ISLNK(st.st_mode):
            done.append(part)
            continue
        links += 1
        if links > MAX_SYMLINKS:
            raise PathEscapeError(original, "symlink cannot be resolved (a loop, or too many levels)")
        target = os.readlink(here)
        if target.startswith("/"):
            inside = _link_inside(target, root_real)
            if inside is None:
                raise PathEscapeError(original, "symlink points outside the workspace")
            done = []
            target_parts = inside
        else:
            target_parts = target.split("/")
        todo += [(p, True) for p in reversed(target_parts)]
    return done


def open_in_workspace(root: Path, rel: str, flags: int, *, make_dirs: bool = False) -> int:
    """A file descriptor for a model-given path, opened without following any symlink.

    The path is checked by :func:`resolve_in_workspace`, then opened one component at a time from
    root's descriptor with O_NOFOLLOW.  The checked path holds no symlink, so a component that has
    become one since (a process swapping a directory for a link: TOCTOU) makes the open fail
    instead of leaving the workspace.  ``flags`` get O_NOFOLLOW and O_CLOEXEC; O_NONBLOCK too, so
    that a FIFO never blocks the open.  Unless O_DIRECTORY is asked for, the result must be a
    regular file with one link.  ``make_dirs`` creates missing parent directories (mkdirat).

    Raises PathEscapeError, FileNotFoundError, IsADirectoryError, NotADirectoryError.
    """
    target = resolve_in_workspace(root, rel)
    root_real = os.path.realpath(os.fspath(root))
    parts = target.relative_to(root_real).parts
    want_dir = bool(flags & os.O_DIRECTORY)
    dir_fd = os.open(root_real, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        if not parts:
            if not want_dir:
                raise IsADirectoryError(errno.EISDIR, "is a directory", rel)
            return os.open(".", flags | os.O_CLOEXEC, dir_fd=dir_fd)
        for part in parts[:-1]:
            dir_fd = _step(dir_fd, part, rel, make_dirs)
        try:
            fd = os.open(parts[-1], flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, 0o644, dir_fd=dir_fd)
        except OSError as exc:  # ENOTDIR here (O_DIRECTORY on a file) is the caller's to report
            raise (_swapped(exc, rel) if exc.errno == errno.ELOOP else exc) from None
    finally:
        os.close(dir_fd)
    try:
        st = os.fstat(fd)
        if want_dir:
            return fd
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory", rel)
        if not stat.S_ISREG(st.st_mode):
            raise PathEscapeError(rel, "not a regular file or directory")
        if st.st_nlink > 1:
            raise PathEscapeError(rel, "file has several hard links (may alias a file outside)")
        os.set_blocking(fd, True)
        return fd
    except BaseException:
        os.close(fd)
        raise


def _step(dir_fd: int, part: str, rel: str, make_dirs: bool) -> int:
    """Descend one directory (never through a symlink); closes ``dir_fd``, returns the child's."""
    try:
        try:
            return os.open(part, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
        except FileNotFoundError:
            if not make_dirs:
                raise
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, 0o755, dir_fd=dir_fd)
            return os.open(part, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError as exc:
        raise _swapped(exc, rel) from None
    finally:
        os.close(dir_fd)


def _swapped(exc: OSError, rel: str) -> Exception:
    """ELOOP/ENOTDIR on a path checked a moment ago: something became a symlink in between."""
    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
        return PathEscapeError(rel, "a path component is a symlink or not a directory")
    return exc
