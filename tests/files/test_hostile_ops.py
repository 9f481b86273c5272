"""Every file op against every hostile path, in-process (the agent's own code path),
with the real worker dropping to joko's uid: nothing outside joko's home is read or
changed, whatever the op answers."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from typing import Any

import pytest

from jopanel.errors import Forbidden, JoPanelError, NotFound, ValidationFailed
from jopanel.system import fsproc

from .conftest import SECRET_ETC, SECRET_J2, SECRET_OUT, Scene, digest_outside
from .hostile import ALL, LINK_ITSELF, LINKED, LOOKALIKE, SYNTAX

SECRETS = (SECRET_OUT, SECRET_J2, SECRET_ETC, "root:x:0:0")


def _zip_bytes(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


OPS: dict[str, Callable[[Scene, str], Any]] = {
    "list": lambda s, p: s.op("file_list", path=p),
    "read": lambda s, p: s.op("file_read", path=p),
    "download": lambda s, p: s.download(p),
    "upload": lambda s, p: s.upload(p, b"pwned", overwrite=True),
    "mkdir": lambda s, p: s.op("file_mkdir", path=p),
    "move_from": lambda s, p: s.op("file_move", source=p, destination="moved"),
    "move_to": lambda s, p: s.op("file_move", source="victim.txt", destination=p),
    "copy_from": lambda s, p: s.op("file_copy", source=p, destination="copied"),
    "copy_to": lambda s, p: s.op("file_copy", source="victim.txt", destination=p),
    "delete": lambda s, p: s.op("file_delete", path=p),
    "chmod": lambda s, p: s.op("file_chmod", path=p, mode=0o777),
    "zip_from": lambda s, p: s.op("file_zip", paths=[p], destination="z.zip"),
    "zip_to": lambda s, p: s.op("file_zip", paths=["victim.txt"], destination=p),
    "unzip_from": lambda s, p: s.op("file_unzip", path=p),
    "unzip_to": lambda s, p: s.op("file_unzip", path="good.zip", destination=p),
}


def _attempt(scene: Scene, name: str, path: str) -> tuple[str, str]:
    """(outcome, everything the op gave back as text)."""
    try:
        result = OPS[name](scene, path)
    except JoPanelError as exc:
        return type(exc).__name__, str(exc)
    if isinstance(result, bytes):
        return "ok", result.decode(errors="replace")
    return "ok", json.dumps(result.model_dump(mode="json"))


@pytest.fixture(params=[False, True], ids=["openat2", "nofollow-walk"])
def walk(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    monkeypatch.setattr(fsproc, "FORCE_WALK", request.param)
    return bool(request.param)


def test_there_are_enough_hostile_paths() -> None:
    assert len(ALL) >= 30 and len(SYNTAX) >= 25


@pytest.mark.parametrize("op_name", sorted(OPS))
def test_hostile_paths(scene: Scene, op_name: str, walk: bool) -> None:
    before = digest_outside(scene.root)
    for path in ALL:
        scene.reset()
        (scene.home / "good.zip").write_bytes(_zip_bytes({"fresh/x.txt": b"x"}))
        outcome, said = _attempt(scene, op_name, path)
        for secret in SECRETS:
            assert secret not in said, (op_name, path, said)
        if path in SYNTAX:
            assert outcome == "ValidationFailed", (op_name, path, outcome, said)
        if path in LINKED:
            assert outcome != "ok", (op_name, path, said)
        if path in LINK_ITSELF and op_name in ("read", "download", "chmod", "list", "copy_from"):
            assert outcome != "ok" or op_name == "copy_from", (op_name, path, said)
        assert digest_outside(scene.root) == before, (op_name, path)
    scene.reset()


def test_lookalikes_stay_inside(scene: Scene) -> None:
    """An encoded or look-alike dot is a literal name: made inside the home, nowhere else."""
    scene.reset()
    before = digest_outside(scene.root)
    for top in sorted({path.split("/")[0] for path in LOOKALIKE}):
        scene.op("file_mkdir", path=top)
        assert (scene.home / top).is_dir()
        assert (scene.home / top).stat().st_uid == scene.uid()
    assert digest_outside(scene.root) == before
    scene.reset()


def test_link_itself_is_acted_on_not_its_target(scene: Scene) -> None:
    scene.reset()
    before = digest_outside(scene.root)
    for name in LINK_ITSELF:
        with pytest.raises((ValidationFailed, Forbidden)):
            scene.op("file_read", path=name)
        with pytest.raises((ValidationFailed, Forbidden)):
            scene.op("file_chmod", path=name, mode=0o777)
        scene.op("file_delete", path=name)  # the link goes, not what it points at
        assert not (scene.home / name).exists() and not (scene.home / name).is_symlink()
    assert digest_outside(scene.root) == before
    assert (scene.root / "outside/secret.txt").read_text() == SECRET_OUT
    scene.reset()


def test_hard_link_to_outside_file_refused(scene: Scene) -> None:
    scene.reset()
    for name in ("hl_etc", "hl_out"):
        with pytest.raises(Forbidden):
            scene.op("file_read", path=name)
        with pytest.raises(Forbidden):
            scene.download(name)
        with pytest.raises(Forbidden):
            scene.upload(name, b"overwritten", overwrite=True)
    result = scene.op("file_zip", paths=["hl_etc", "victim.txt"], destination="hl.zip").data
    assert "hl_etc" in result["skipped"]
    with zipfile.ZipFile(scene.home / "hl.zip") as zf:
        assert zf.namelist() == ["victim.txt"]
    assert (scene.root / "etc/secret").read_text() == SECRET_ETC
    scene.reset()


def test_other_account_unreadable_even_without_links(scene: Scene) -> None:
    """joko2's home is 0750: the worker, running as joko, is stopped by the kernel too."""
    scene.reset()
    secret = scene.root / "home/joko2/secret.txt"
    scene.op("file_list", user="joko2", path="")  # joko2 itself can
    assert scene.op("file_read", user="joko2", path="secret.txt").data["content"] == SECRET_J2
    with pytest.raises(NotFound):
        scene.op("file_read", path="secret.txt")  # joko's namespace is joko's home
    assert secret.read_text() == SECRET_J2


def test_unknown_account(scene: Scene) -> None:
    with pytest.raises(NotFound):
        scene.op("file_list", user="nosuchuser", path="")
