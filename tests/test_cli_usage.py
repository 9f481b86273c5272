"""Usage mistakes over the real console script: one line on stderr, exit 2, no traceback.

These run the installed `jopanel` entry point (not typer's test runner), so they also
catch a typer/click upgrade whose exceptions `jopanel.cli.main` would no longer handle.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import JOPANEL, cli


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([JOPANEL, *args], capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("usage-root")
    cli(root, "init")
    return root


MISTAKES = [
    (["frobnicate"], "No such command 'frobnicate'"),
    (["user", "frobnicate"], "No such command 'frobnicate'"),
    (["user", "create"], "Missing argument 'NAME'"),
    (["user", "show", "joko", "--bogus"], "No such option '--bogus'"),
    (["user", "create", "joko", "--domain"], "Option '--domain' requires an argument"),
    (["domain", "add", "joko", "x.example", "--type", "bogus"], "Invalid value for '--type'"),
    (["user", "list", "extra", "args"], "Got unexpected extra arguments"),
    (["reconcile", "--dry-run=maybe"], "--dry-run"),
    (["install", "--database-url"], "Option '--database-url' requires an argument"),
    (["install", "--no-such-flag"], "No such option '--no-such-flag'"),
    (["uninstall", "extra"], "Got unexpected extra argument"),
]


@pytest.mark.parametrize(
    ("args", "says"), MISTAKES, ids=lambda v: " ".join(v) if isinstance(v, list) else ""
)
def test_a_usage_mistake_is_one_line_and_exit_2(root: Path, args: list[str], says: str) -> None:
    proc = run("--root", str(root), *args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("jopanel: ")
    assert says in lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout


@pytest.mark.parametrize(("args", "says"), MISTAKES[:4])
def test_with_json_a_usage_mistake_is_one_json_line(root: Path, args: list[str], says: str) -> None:
    proc = run("--root", str(root), "--json", *args)
    assert proc.returncode == 2
    (line,) = proc.stderr.splitlines()
    error = json.loads(line)
    assert error["error"] == "usage"
    assert says in error["detail"]


def test_with_json_a_refused_change_is_json_with_its_code(root: Path) -> None:
    proc = run("--root", str(root), "--json", "user", "show", "nosuchuser")
    assert proc.returncode == 3
    error = json.loads(proc.stderr)
    assert error["error"] == "not_found"


def test_a_bare_group_prints_its_help_and_exits_2(root: Path) -> None:
    proc = run("--root", str(root), "user")
    assert proc.returncode == 2
    assert "Usage: jopanel user" in proc.stdout
    assert proc.stderr == ""


def test_help_exits_0() -> None:
    proc = run("--help")
    assert proc.returncode == 0
    assert "Usage: jopanel" in proc.stdout


@pytest.mark.parametrize(
    "args", [["user", "list"], ["reindex"], ["doctor"], ["package", "list"], ["admin", "list"]]
)
def test_a_root_never_initialised_is_refused_and_nothing_created(
    tmp_path: Path, args: list[str]
) -> None:
    root = tmp_path / "never-initialised"
    root.mkdir()
    proc = run("--root", str(root), *args)
    assert proc.returncode == 3
    assert proc.stderr == (
        f"jopanel: {root} is not a JoPanel root: run `jopanel init` or pass --root\n"
    )
    assert list(root.iterdir()) == []


def test_init_prepares_a_root_the_refusal_points_at(tmp_path: Path) -> None:
    root = tmp_path / "fresh"
    assert run("--root", str(root), "user", "list").returncode == 3
    assert run("--root", str(root), "init").returncode == 0
    assert run("--root", str(root), "user", "list").returncode == 0
