"""The walk fallback: blocks not sizes, hard links once, symlinks not followed, bounded."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from jopanel.system.diskwalk import walk


def du_bytes(path: Path) -> int:
    """`du -sx` in bytes of allocated blocks: the figure the walk must agree with."""
    out = subprocess.run(["du", "-sxB1", str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0])


def fill(home: Path, outside: Path) -> None:
    (home / "public_html" / "deep" / "er").mkdir(parents=True)
    for i in range(50):
        (home / "public_html" / f"f{i}.txt").write_bytes(os.urandom(3000))
    big = home / "public_html" / "deep" / "big.bin"
    big.write_bytes(os.urandom(1 << 20))
    os.link(big, home / "public_html" / "deep" / "er" / "same-big.bin")  # counted once
    (home / "sparse").write_bytes(b"")
    os.truncate(home / "sparse", 100 << 20)  # 100 MiB apparent, no blocks
    outside.write_bytes(os.urandom(2 << 20))
    os.symlink(outside, home / "link-out")  # not followed
    os.symlink("/", home / "root-link")


def test_walk_agrees_with_du(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    fill(home, tmp_path / "outside.bin")
    result = walk(home)
    assert result.complete
    assert result.bytes == du_bytes(home)
    assert 1 << 20 < result.bytes < (1 << 20) + 50 * 8192 + 64 * 4096
    assert result.files == 50 + 2 + 1 + 2  # files, both links, sparse, two symlinks


def test_walk_of_a_missing_home_is_zero(tmp_path: Path) -> None:
    assert walk(tmp_path / "none").bytes == 0


def test_walk_stops_at_its_budget(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "a").mkdir(parents=True)
    (home / "a" / "x").write_bytes(b"x" * 5000)
    result = walk(home, budget_s=0)
    assert not result.complete
