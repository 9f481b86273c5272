"""A directory swapped for a symlink while ops run; zip-slip, symlink entries and zip bombs;
ownership of what is created; chmod bits; the editor's limits; suspended accounts."""

from __future__ import annotations

import io
import os
import stat
import threading
import time
import zipfile
from collections.abc import Iterator

import pytest

from jopanel.agent.ops import files as file_ops
from jopanel.errors import Conflict, Forbidden, JoPanelError, TooLarge, ValidationFailed
from jopanel.system import fsproc

from .conftest import SECRET_ETC, SECRET_J2, SECRET_OUT, Scene, digest_outside


@pytest.fixture
def fresh(scene: Scene) -> Iterator[Scene]:
    scene.reset()
    yield scene
    scene.reset()


# --- the race -----------------------------------------------------------------------------


def _swapper(scene: Scene, target: str, stop: threading.Event, swaps: list[int]) -> None:
    race, real = scene.home / "race", scene.home / "race.real"
    while not stop.is_set():
        os.rename(race, real)
        os.symlink(target, race)
        time.sleep(0.0005)
        os.unlink(race)
        os.rename(real, race)
        swaps[0] += 1
        time.sleep(0.0005)


@pytest.mark.parametrize("walk", [False, True], ids=["openat2", "nofollow-walk"])
@pytest.mark.parametrize("target", ["outside", "home/joko2"])
def test_directory_swapped_for_symlink_during_ops(
    fresh: Scene, walk: bool, target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fsproc, "FORCE_WALK", walk)
    scene = fresh
    race = scene.home / "race"
    (race / "sub").mkdir(parents=True)
    uid = scene.uid()
    for i in range(200):
        (race / f"v{i}").write_text("inner")
        os.chown(race / f"v{i}", uid, uid)
    (race / "secret.txt").write_text("inner")
    (race / "sub/secret.txt").write_text("inner")
    for path in (race, race / "sub", race / "secret.txt", race / "sub/secret.txt"):
        os.chown(path, uid, uid)
    # Same names outside, so a followed link would find something to read or change.
    (scene.root / "outside/sub").mkdir(exist_ok=True)
    (scene.root / "outside/sub/secret.txt").write_text(SECRET_OUT)
    for i in range(200):
        (scene.root / f"outside/v{i}").write_text(SECRET_OUT)
    before = digest_outside(scene.root)
    stop, swaps = threading.Event(), [0]
    thread = threading.Thread(
        target=_swapper, args=(scene, str(scene.root / target), stop, swaps), daemon=True
    )
    thread.start()
    seen: list[str] = []
    outcomes: dict[str, int] = {}
    try:
        deadline = time.monotonic() + 4
        i = 0
        while time.monotonic() < deadline:
            i += 1
            calls = [
                lambda: scene.op("file_read", path="race/secret.txt"),
                lambda: scene.op("file_read", path="race/sub/secret.txt"),
                lambda: scene.op("file_list", path="race"),
                lambda: scene.upload("race/secret.txt", b"changed", overwrite=True),
                lambda: scene.op("file_chmod", path="race/sub/secret.txt", mode=0o600),
                lambda i=i: scene.op("file_delete", path=f"race/v{i}"),
                lambda i=i: scene.op("file_copy", source="race", destination=f"c{i}"),
                lambda i=i: scene.op("file_mkdir", path=f"race/sub/m{i}"),
                lambda: scene.op("file_move", source="race/sub/secret.txt", destination="moved"),
                lambda i=i: scene.op("file_zip", paths=["race"], destination=f"z{i}.zip"),
            ]
            for call in calls:
                try:
                    result = call()
                    outcomes["ok"] = outcomes.get("ok", 0) + 1
                    seen.append(str(result.data))
                except JoPanelError as exc:
                    outcomes[exc.code] = outcomes.get(exc.code, 0) + 1
                    seen.append(str(exc))
    finally:
        stop.set()
        thread.join()
    assert swaps[0] > 50
    assert outcomes.get("ok", 0) > 0 and outcomes.get("invalid", 0) > 0, outcomes
    assert not [s for s in seen if SECRET_OUT in s or SECRET_J2 in s or SECRET_ETC in s]
    for archive in scene.home.glob("z*.zip"):
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():
                assert SECRET_OUT.encode() not in zf.read(name)
    for copied in scene.home.glob("c*"):
        for path in copied.rglob("*"):
            if path.is_file() and not path.is_symlink():
                assert SECRET_OUT not in path.read_text()
    assert digest_outside(scene.root) == before


# --- archives -----------------------------------------------------------------------------


def _zip(entries: list[tuple[str | zipfile.ZipInfo, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return buf.getvalue()


def _info(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = mode << 16
    return info


SLIPS = {
    "dotdot": [("../evil.txt", b"x")],
    "deep-dotdot": [("ok/../../evil.txt", b"x")],
    "absolute": [("/tmp/evil.txt", b"x")],
    "backslash": [("..\\evil.txt", b"x")],
    "drive": [("C:/evil.txt", b"x")],
    "control-later": [("fine.txt", b"x"), ("a\x01b", b"x")],
    "symlink": [(_info("link", stat.S_IFLNK | 0o777), b"/etc/passwd")],
    "symlink-then-file": [(_info("d", stat.S_IFLNK | 0o777), b"/tmp"), ("d/x.txt", b"x")],
    "device": [(_info("dev", stat.S_IFCHR | 0o666), b"")],
    "fifo": [(_info("pipe", stat.S_IFIFO | 0o666), b"")],
}


@pytest.mark.parametrize("case", sorted(SLIPS))
def test_unzip_refuses_slips(fresh: Scene, case: str) -> None:
    scene = fresh
    scene.upload("a.zip", _zip(SLIPS[case]))  # type: ignore[arg-type]
    scene.op("file_mkdir", path="dest")
    before_out = digest_outside(scene.root)
    listing = sorted(os.listdir(scene.home))
    with pytest.raises(ValidationFailed):
        scene.op("file_unzip", path="a.zip", destination="dest")
    assert os.listdir(scene.home / "dest") == []  # nothing half-extracted, no staging left
    assert sorted(os.listdir(scene.home)) == listing
    assert digest_outside(scene.root) == before_out


def test_unzip_into_existing_symlink_is_a_conflict(fresh: Scene) -> None:
    scene = fresh
    scene.upload("a.zip", _zip([("out/secret.txt", b"overwritten")]))
    before = digest_outside(scene.root)
    with pytest.raises(Conflict):
        scene.op("file_unzip", path="a.zip")
    assert (scene.root / "outside/secret.txt").read_text() == SECRET_OUT
    assert digest_outside(scene.root) == before


def test_zip_bomb_ratio(fresh: Scene) -> None:
    fresh.upload("bomb.zip", _zip([("zeros", bytes(30 * 1024 * 1024))]))
    with pytest.raises(TooLarge, match="expands more than"):
        fresh.op("file_unzip", path="bomb.zip")
    assert not (fresh.home / "zeros").exists()
    assert not [n for n in os.listdir(fresh.home) if "jopanel" in n]


def test_zip_bomb_entry_count(fresh: Scene) -> None:
    fresh.upload("many.zip", _zip([(f"f{i}", b"") for i in range(10_001)]))
    with pytest.raises(TooLarge, match="entries"):
        fresh.op("file_unzip", path="many.zip")
    assert not (fresh.home / "f0").exists()


def test_zip_bomb_total_size(fresh: Scene, monkeypatch: pytest.MonkeyPatch) -> None:
    small = fsproc.Limits(unzip_bytes=3 * 1024 * 1024)
    monkeypatch.setattr(file_ops, "limits_for", lambda call: small)
    parts = [(f"r{i}", os.urandom(1024 * 1024)) for i in range(5)]  # ratio 1: only the total
    fresh.upload("big.zip", _zip(parts))  # type: ignore[arg-type]
    with pytest.raises(TooLarge, match="expands past"):
        fresh.op("file_unzip", path="big.zip")
    assert not (fresh.home / "r0").exists()


def test_zip_unzip_round_trip_strips_special_bits(fresh: Scene) -> None:
    scene = fresh
    data = _zip([(_info("tool", stat.S_IFREG | 0o4755), b"#!/bin/sh\n"), ("d/x.txt", b"x")])
    scene.upload("in.zip", data)
    scene.op("file_mkdir", path="res")
    result = scene.op("file_unzip", path="in.zip", destination="res").data
    assert sorted(result["extracted"]) == ["d", "tool"]
    mode = (scene.home / "res/tool").stat().st_mode
    assert stat.S_IMODE(mode) == 0o755
    scene.op("file_zip", paths=["res"], destination="again.zip")
    with zipfile.ZipFile(scene.home / "again.zip") as zf:
        assert sorted(zf.namelist()) == ["res/", "res/d/", "res/d/x.txt", "res/tool"]


# --- ownership, chmod, editor, suspension --------------------------------------------------


def test_created_files_belong_to_the_account(fresh: Scene) -> None:
    scene = fresh
    scene.upload("up.txt", b"hello")
    scene.op("file_mkdir", path="dir")
    scene.op("file_copy", source="up.txt", destination="dir/copy.txt")
    scene.op("file_zip", paths=["dir"], destination="dir.zip")
    scene.op("file_mkdir", path="x")
    scene.op("file_unzip", path="dir.zip", destination="x")
    uid = scene.uid()
    for rel in ("up.txt", "dir", "dir/copy.txt", "dir.zip", "x/dir", "x/dir/copy.txt"):
        st = (scene.home / rel).stat()
        assert (st.st_uid, st.st_gid) == (uid, uid), rel
    assert stat.S_IMODE((scene.home / "up.txt").stat().st_mode) == 0o644


@pytest.mark.parametrize("mode", [0o4755, 0o2755, 0o1777, 0o7777, 0o10000])
def test_chmod_refuses_special_bits(fresh: Scene, mode: int) -> None:
    with pytest.raises(ValidationFailed):
        fresh.op("file_chmod", path="victim.txt", mode=mode)
    assert stat.S_IMODE((fresh.home / "victim.txt").stat().st_mode) == 0o644


def test_chmod_plain_bits(fresh: Scene) -> None:
    fresh.op("file_chmod", path="victim.txt", mode=0o600)
    assert stat.S_IMODE((fresh.home / "victim.txt").stat().st_mode) == 0o600


def test_editor_save_keeps_mode_and_is_atomic(fresh: Scene) -> None:
    scene = fresh
    scene.op("file_chmod", path="victim.txt", mode=0o640)
    inode = (scene.home / "victim.txt").stat().st_ino
    scene.upload("victim.txt", "héllo\n".encode(), overwrite=True, kind="text")
    read = scene.op("file_read", path="victim.txt").data
    assert read["content"] == "héllo\n" and read["mode"] == "0640" and not read["binary"]
    assert (scene.home / "victim.txt").stat().st_ino != inode  # a new file renamed in
    with pytest.raises(Conflict):
        scene.upload("victim.txt", b"x")  # no overwrite asked


def test_editor_limits(fresh: Scene) -> None:
    scene = fresh
    scene.upload("bin.dat", b"\x00\x01\x02binary")
    assert scene.op("file_read", path="bin.dat").data["binary"] is True
    big = b"a" * (2 * 1024 * 1024 + 1)
    with pytest.raises(TooLarge):
        scene.upload("big.txt", big, kind="text")
    scene.upload("big.txt", big)  # an upload may be larger
    with pytest.raises(TooLarge):
        scene.op("file_read", path="big.txt")
    assert scene.download("big.txt") == big


def test_short_upload_leaves_nothing(fresh: Scene) -> None:
    from jopanel.agent import streams

    token = streams.INPUT.set((io.BytesIO(b"abc"), 10))
    try:
        with pytest.raises(ValidationFailed, match="ended early"):
            fresh.op("file_upload", path="short.txt", length=10)
    finally:
        streams.INPUT.reset(token)
    assert not [n for n in os.listdir(fresh.home) if "short" in n]


def test_suspended_account_reads_but_cannot_change(fresh: Scene) -> None:
    scene = fresh
    scene.op("suspend_user")
    try:
        assert scene.op("file_list", path="").data["total"] > 0
        with pytest.raises(Forbidden, match="suspended"):
            scene.op("file_mkdir", path="nope")
        with pytest.raises(Forbidden):
            scene.upload("nope.txt", b"x")
        with pytest.raises(Forbidden):
            scene.op("file_delete", path="victim.txt")
    finally:
        scene.op("unsuspend_user")
    assert (scene.home / "victim.txt").exists()
