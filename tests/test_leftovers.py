"""What a deleted account leaves in the shared directories is removed without ever
resolving a path through someone else's directory or link."""

from __future__ import annotations

import os
from pathlib import Path

from jopanel.settings import load_settings
from jopanel.system.leftovers import remove_owned_files

GONE, OTHER = 41001, 41002


def owned(path: Path, uid: int, text: str | None = "x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if text is None:
        path.mkdir()
    else:
        path.write_text(text)
    os.lchown(path, uid, uid)
    return path


def test_only_the_uid_s_entries_go_and_links_are_never_followed(tmp_path: Path) -> None:
    root = tmp_path / "root"
    settings = load_settings(root)
    outside = tmp_path / "precious"
    outside.mkdir()
    owned(outside / "keep.txt", OTHER)
    theirs = owned(root / "tmp/theirs", OTHER, None)
    mine_in_theirs = owned(theirs / "mine.txt", GONE)
    link = theirs / "link-to-outside"
    link.symlink_to(outside)
    os.lchown(link, GONE, GONE)  # the gone uid's link: removed, its target untouched
    their_link = root / "tmp/their-link"
    their_link.symlink_to(outside)  # someone else's link: never followed into
    os.lchown(their_link, OTHER, OTHER)
    my_dir = owned(root / "var/tmp/cache", GONE, None)
    owned(my_dir / "deep/file", OTHER)  # inside a directory the uid owns: goes with it
    mail = owned(root / "var/mail/goner", GONE)
    kept = owned(root / "tmp/stays", OTHER)
    removed = remove_owned_files(settings, GONE, "goner")
    assert removed == 4
    assert not mine_in_theirs.exists() and not link.is_symlink()
    assert not my_dir.exists() and not mail.exists()
    assert kept.read_text() == "x" and their_link.is_symlink()
    assert (outside / "keep.txt").read_text() == "x"


def test_missing_shared_directories_are_fine(tmp_path: Path) -> None:
    assert remove_owned_files(load_settings(tmp_path / "empty"), GONE, "goner") == 0
