"""ensure_dir sets modes only on directories it creates; existing ones keep theirs."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from jopanel.atomic import PARENT_MODE, ensure_dir
from jopanel.settings import Settings, load_settings
from jopanel.system.sandbox import init_root
from tests.conftest import Op, new_user


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=[0o022, 0o077, 0o000], ids=["umask022", "umask077", "umask000"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


@pytest.mark.parametrize("existing_mode", [0o755, 0o711, 0o750, 0o1777])
def test_an_existing_directory_keeps_its_mode(tmp_path: Path, existing_mode: int) -> None:
    backups = tmp_path / "backups"
    backups.mkdir()
    os.chmod(backups, existing_mode)

    assert ensure_dir(backups, 0o700) == backups

    assert _mode(backups) == existing_mode


def test_a_created_directory_and_its_parents_get_their_modes(tmp_path: Path, umask: int) -> None:
    os.chmod(tmp_path, 0o751)
    leaf = tmp_path / "a" / "b" / "c"

    ensure_dir(leaf, 0o700)

    assert _mode(leaf) == 0o700
    assert _mode(tmp_path / "a") == PARENT_MODE == 0o755
    assert _mode(tmp_path / "a" / "b") == 0o755
    assert _mode(tmp_path) == 0o751  # existed: untouched


def test_only_the_missing_part_of_the_chain_is_given_modes(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir(mode=0o700)
    os.chmod(tmp_path / "a", 0o710)

    ensure_dir(tmp_path / "a" / "b" / "c", 0o750, parent_mode=0o711)

    assert _mode(tmp_path / "a") == 0o710
    assert _mode(tmp_path / "a" / "b") == 0o711
    assert _mode(tmp_path / "a" / "b" / "c") == 0o750


def test_a_file_in_the_way_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileExistsError):
        ensure_dir(tmp_path / "file", 0o700)
    with pytest.raises(OSError):
        ensure_dir(tmp_path / "file" / "sub", 0o700)
    assert (tmp_path / "file").read_text() == "x"


def test_a_symlink_to_a_directory_counts_as_existing(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    os.chmod(real, 0o755)
    (tmp_path / "link").symlink_to(real)

    ensure_dir(tmp_path / "link", 0o700)

    assert _mode(real) == 0o755


def test_init_creates_the_store_directories_root_only(tmp_path: Path) -> None:
    old = os.umask(0o000)
    try:
        settings = load_settings(tmp_path / "root")
        init_root(settings)
    finally:
        os.umask(old)
    for directory in (
        settings.users_dir,
        settings.revisions_dir,
        settings.archive_dir,
        settings.packages_dir,
        settings.domain_claims_dir,
        settings.locks_dir,
        settings.state_dir,
    ):
        assert _mode(directory) == 0o700, directory
    assert _mode(settings.etc_dir) == 0o755
    # run/jopanel holds the agent's socket: the service user must be able to reach it.
    assert _mode(settings.locks_dir.parent) == 0o755


def test_a_store_write_creates_private_dirs_and_leaves_existing_ones(
    op: Op, settings: Settings
) -> None:
    os.chmod(settings.archive_dir, 0o750)  # an admin's choice, kept

    new_user(op, "joko")
    assert _mode(settings.revisions_dir / "joko") == 0o700  # created by the write
    op("delete_user", username="joko")

    assert _mode(settings.archive_dir) == 0o750
    archived = list(settings.archive_dir.iterdir())
    assert archived and all(_mode(p) == 0o700 for p in archived)
