"""Two real accounts, `joko` and `joko2` (a sibling-prefix pair), in a temp root, with
secrets outside joko's home and symlinks/hard links in it that point at them."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from jopanel.agent import streams
from jopanel.agent.context import AgentContext
from jopanel.agent.registry import OpResult, execute
from jopanel.settings import Settings, load_settings
from jopanel.system.sandbox import init_root

PASSWORD = "correct horse battery"
SECRET_OUT = "SECRET-OUTSIDE-0f3a"
SECRET_J2 = "SECRET-JOKO2-77b1"
SECRET_ETC = "SECRET-ROOT-ETC-5c2e"
# Left alone by the digest: written by the agent itself on every op.
NOT_OURS = ("var/log/jopanel", "run/jopanel", "var/lib/jopanel")


def create_accounts(ctx: AgentContext) -> None:
    for name in ("joko", "joko2"):
        execute(
            ctx,
            "create_user",
            {
                "username": name,
                "password": PASSWORD,
                "contact_email": f"{name}@example.com",
                "primary_domain": f"{name}.example.com",
            },
            actor="test",
        )


def plant(root: Path) -> None:
    """Secrets outside joko's home, and ways out planted in it (idempotent)."""
    home, other = root / "home/joko", root / "home/joko2"
    outside = root / "outside"
    outside.mkdir(exist_ok=True)
    outside.chmod(0o777)  # even world-writable: only the resolver keeps joko out
    (outside / "secret.txt").write_text(SECRET_OUT)
    (outside / "secret.txt").chmod(0o666)
    (root / "etc/secret").write_text(SECRET_ETC)
    (root / "etc/secret").chmod(0o644)
    if not (other / "secret.txt").exists():
        (other / "secret.txt").write_text(SECRET_J2)
        os.chown(other / "secret.txt", *_owner(other))
    links = {
        "etc": "/etc",
        "rootetc": str(root / "etc"),
        "j2": "../joko2",
        "j2abs": str(other),
        "out": str(outside),
        "public_html/up": "../..",
    }
    for name, target in links.items():
        if not os.path.lexists(home / name):
            os.symlink(target, home / name)
    hard = {"hl_etc": root / "etc/secret", "hl_out": outside / "secret.txt"}
    for name, linked in hard.items():
        if not os.path.lexists(home / name):
            os.link(linked, home / name)
    victim = home / "victim.txt"
    if not victim.exists():
        victim.write_text("victim\n")
        os.chown(victim, *_owner(home))


def _owner(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_uid, st.st_gid


def digest_outside(root: Path, inside: str = "home/joko") -> str:
    """A hash of every entry under `root` except joko's home (and the agent's own state),
    plus the host's /etc/passwd and /etc/hostname: content, type, mode and owner."""
    h = hashlib.sha256()
    skip = {str(root / inside), *(str(root / p) for p in NOT_OURS)}
    for top, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if os.path.join(top, d) not in skip)
        for name in sorted(dirs + files):
            path = os.path.join(top, name)
            if path in skip:
                continue
            st = os.lstat(path)
            h.update(f"{path}|{st.st_mode:o}|{st.st_uid}|{st.st_gid}\n".encode())
            if stat.S_ISREG(st.st_mode):
                h.update(Path(path).read_bytes())
            elif stat.S_ISLNK(st.st_mode):
                h.update(os.readlink(path).encode())
    for host in ("/etc/passwd", "/etc/hostname", "/etc/shadow"):
        if os.path.exists(host):
            h.update(Path(host).read_bytes())
    return h.hexdigest()


def reset_home(root: Path, baseline: set[str]) -> None:
    """Remove what the tests added at the top of joko's home, re-plant the links."""
    home = root / "home/joko"
    for name in os.listdir(home):
        if name in baseline:
            continue
        path = home / name
        if path.is_symlink() or not path.is_dir():
            path.unlink()
        else:
            shutil.rmtree(path)
    plant(root)


@dataclass
class Scene:
    root: Path
    settings: Settings
    ctx: AgentContext
    baseline: set[str]

    @property
    def home(self) -> Path:
        return self.root / "home/joko"

    def op(self, name: str, /, user: str = "joko", **payload: Any) -> OpResult:
        return execute(self.ctx, name, {"username": user, **payload}, actor="test")

    def upload(self, path: str, data: bytes, user: str = "joko", **extra: Any) -> OpResult:
        token = streams.INPUT.set((io.BytesIO(data), len(data)))
        try:
            return self.op("file_upload", user=user, path=path, length=len(data), **extra)
        finally:
            streams.INPUT.reset(token)

    def download(self, path: str, user: str = "joko") -> bytes:
        out = io.BytesIO()
        token = streams.OUTPUT.set(lambda _meta: out)
        try:
            self.op("file_download", user=user, path=path)
        finally:
            streams.OUTPUT.reset(token)
        return out.getvalue()

    def reset(self) -> None:
        reset_home(self.root, self.baseline)

    def uid(self, name: str = "joko") -> int:
        return (self.root / "home" / name).stat().st_uid


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    root = tmp_path_factory.mktemp("files") / "root"
    settings = load_settings(root)
    init_root(settings)
    ctx = AgentContext(settings)
    create_accounts(ctx)
    plant(root)
    yield Scene(root, settings, ctx, set(os.listdir(root / "home/joko")))
