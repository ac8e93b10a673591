"""Unit tests for casebank.sandbox.paths.resolve_in_workspace (no sandbox needed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from casebank.sandbox.paths import PathEscapeError, resolve_in_workspace


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    r = tmp_path / "ws"
    (r / "src" / "pkg").mkdir(parents=True)
    (r / "src" / "pkg" / "mod.py").write_text("x = 1\n")
    (r / "README.md").write_text("hi\n")
    return r


def real(p: Path) -> Path:
    return Path(os.path.realpath(p))


@pytest.mark.parametrize(
    ("rel", "expected"),
    [
        ("README.md", "README.md"),
        ("./README.md", "README.md"),
        ("src/pkg/mod.py", "src/pkg/mod.py"),
        ("src//pkg/./mod.py", "src/pkg/mod.py"),
        ("src/pkg/../pkg/mod.py", "src/pkg/mod.py"),
        ("src/..", ""),
        ("", ""),
        (".", ""),
        ("/workspace", ""),
        ("/workspace/", ""),
        ("/workspace/src/pkg/mod.py", "src/pkg/mod.py"),
        ("new/dir/file.txt", "new/dir/file.txt"),  # need not exist
        ("\uff0e\uff0e/etc", "\uff0e\uff0e/etc"),  # fullwidth dots are just a name
        ("..\u2215etc", "..\u2215etc"),  # division slash is not a separator
        ("héllo wörld.txt", "héllo wörld.txt"),
    ],
)
def test_accepts_paths_inside(root: Path, rel: str, expected: str) -> None:
    got = resolve_in_workspace(root, rel)
    assert got == real(root) / expected if expected else got == real(root)


@pytest.mark.parametrize(
    "rel",
    [
        "..",
        "../",
        "../../etc/passwd",
        "src/../../etc/passwd",
        "src/pkg/../../../x",
        "/etc/passwd",
        "/",
        "//etc/passwd",
        "/workspacefoo/x",
        "/workspace/../etc/passwd",
        "/workspace\u2044..",  # fraction slash: still "absolute, not under /workspace"
        "/tmp/x",
        "README.md\x00.txt",
        "\x00",
        "a\nb",
        "evil\u202etxt.py",  # right-to-left override
        "zero\u200bwidth",
        "x" * 300,  # component too long
        "a/" * 600,  # path too long
        "/".join(["d"] * 100),  # too many components
    ],
)
def test_rejects_escapes_and_bad_paths(root: Path, rel: str) -> None:
    with pytest.raises(PathEscapeError):
        resolve_in_workspace(root, rel)


def test_error_message_names_the_path(root: Path) -> None:
    with pytest.raises(PathEscapeError, match=r"\.\./\.\./etc/passwd"):
        resolve_in_workspace(root, "../../etc/passwd")
    assert issubclass(PathEscapeError, ValueError)


def test_non_string_rejected(root: Path) -> None:
    with pytest.raises(PathEscapeError):
        resolve_in_workspace(root, None)  # type: ignore[arg-type]


def test_symlink_outside_rejected(root: Path, tmp_path: Path) -> None:
    (root / "shadow").symlink_to("/etc/shadow")
    (root / "rootdir").symlink_to("/")
    (root / "up").symlink_to("..")
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "rel_out").symlink_to("../outside")
    (root / "dangling_out").symlink_to("/nonexistent/dir/file")
    for rel in ["shadow", "rootdir/etc/passwd", "up/ws/README.md", "up", "rel_out/x", "dangling_out",
                "src/../shadow", "/workspace/rootdir"]:
        with pytest.raises(PathEscapeError, match="symlink"):
            resolve_in_workspace(root, rel)


def test_symlink_inside_allowed_and_resolved(root: Path) -> None:
    (root / "link").symlink_to("src/pkg")
    (root / "abs_inside").symlink_to(root / "README.md")
    assert resolve_in_workspace(root, "link/mod.py") == real(root) / "src/pkg/mod.py"
    assert resolve_in_workspace(root, "abs_inside") == real(root) / "README.md"
    # '..' after a symlink applies to the real directory, not the link's parent
    assert resolve_in_workspace(root, "link/..") == real(root) / "src"


def test_chained_symlink_escape_rejected(root: Path) -> None:
    (root / "a").symlink_to("b")
    (root / "b").symlink_to("c")
    (root / "c").symlink_to("/etc")
    with pytest.raises(PathEscapeError):
        resolve_in_workspace(root, "a/passwd")


def test_symlink_loop_rejected(root: Path) -> None:
    (root / "loop").symlink_to("loop")
    with pytest.raises(PathEscapeError):
        resolve_in_workspace(root, "loop")


def test_root_itself_symlinked_is_fine(tmp_path: Path, root: Path) -> None:
    alias = tmp_path / "alias"
    alias.symlink_to(root)
    assert resolve_in_workspace(alias, "README.md") == real(root) / "README.md"
    with pytest.raises(PathEscapeError):
        resolve_in_workspace(alias, "../ws/README.md")


def test_fifo_and_hardlink_rejected(root: Path) -> None:
    os.mkfifo(root / "pipe")
    with pytest.raises(PathEscapeError, match="regular"):
        resolve_in_workspace(root, "pipe")
    os.link(root / "README.md", root / "hard")
    with pytest.raises(PathEscapeError, match="hard link"):
        resolve_in_workspace(root, "hard")


def test_missing_root(tmp_path: Path) -> None:
    with pytest.raises(PathEscapeError):
        resolve_in_workspace(tmp_path / "nope", "x")
