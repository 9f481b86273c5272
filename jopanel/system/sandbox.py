"""`jopanel init`: prepare a system root, building a sandbox when it has no etc/passwd."""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

from ..atomic import ensure_dir, replace_file
from ..schemas import Package
from ..settings import Settings
from ..store import DEFAULT_PACKAGE, PackageStore

# Host files a sandbox copies; the account databases keep only system accounts.
BASE_FILES = ("login.defs", "default/useradd", "shells", "nsswitch.conf")
ACCOUNT_FILES = ("passwd", "shadow", "group", "gshadow")
SYSTEM_ID_MAX = 999
NOBODY_IDS = {65534}

SKEL_INDEX = """<!doctype html>
<html><head><meta charset="utf-8"><title>Welcome</title></head>
<body><h1>It works</h1><p>This site is hosted with JoPanel.</p></body></html>
"""


def _system_lines(text: str, id_field: int) -> str:
    kept = []
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) > id_field and fields[id_field].isdigit():
            ident = int(fields[id_field])
            if ident > SYSTEM_ID_MAX and ident not in NOBODY_IDS:
                continue
        kept.append(line)
    return "\n".join(kept) + "\n"


def build_sandbox(root: Path, host: Path = Path("/")) -> None:
    """Copy the host's base files into `root` so shadow-utils work on it with --prefix."""
    etc = ensure_dir(root / "etc", 0o755)
    passwd_names: set[str] = set()
    for name in ("passwd", "group"):
        text = (host / "etc" / name).read_text(encoding="utf-8")
        kept = _system_lines(text, 2)
        (etc / name).write_text(kept, encoding="utf-8")
        os.chmod(etc / name, 0o644)
        if name == "passwd":
            passwd_names = {line.split(":")[0] for line in kept.splitlines()}
    group_names = {line.split(":")[0] for line in (etc / "group").read_text().splitlines()}
    for name, allowed in (("shadow", passwd_names), ("gshadow", group_names)):
        source = host / "etc" / name
        lines = source.read_text(encoding="utf-8").splitlines() if source.exists() else []
        kept_lines = [line for line in lines if line.split(":")[0] in allowed]
        (etc / name).write_text("\n".join(kept_lines) + "\n", encoding="utf-8")
        os.chmod(etc / name, 0o640)
    for relative in BASE_FILES:
        source = host / "etc" / relative
        if source.exists():
            (etc / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, etc / relative)
    if (host / "etc/skel").is_dir():
        shutil.copytree(host / "etc/skel", etc / "skel", dirs_exist_ok=True)
    for directory in ("home", "var/mail", "var/log", "run", "tmp"):
        ensure_dir(root / directory, 0o755)
    os.chmod(root / "tmp", 0o1777)


def init_root(settings: Settings) -> list[str]:
    """Make `settings.root` ready for JoPanel; idempotent. Returns what it did."""
    done: list[str] = []
    root = settings.root
    if not (root / "etc/passwd").exists():
        if not settings.is_sandbox:
            raise RuntimeError("/etc/passwd is missing on the real root")
        build_sandbox(root)
        done.append(f"built a sandbox in {root}")
    for directory in (
        settings.etc_dir,
        settings.users_dir,
        settings.revisions_dir,
        settings.archive_dir,
        settings.packages_dir,
        settings.domain_claims_dir,
        settings.locks_dir,
        settings.state_dir,
    ):
        if not directory.is_dir():
            done.append(f"created {directory}")
        ensure_dir(directory, 0o700)
    os.chmod(settings.etc_dir, 0o755)  # the service user needs to reach the agent's config
    skel = settings.skel_dir
    if not (skel / "public_html/index.html").exists():
        ensure_dir(skel / "public_html", 0o755)
        (skel / "public_html/index.html").write_text(SKEL_INDEX, encoding="utf-8")
        for dotfile in (".bashrc", ".profile", ".bash_logout"):
            source = root / "etc/skel" / dotfile
            if source.exists():
                shutil.copy2(source, skel / dotfile)
        os.chmod(skel, 0o755)
        done.append("created the account skeleton")
    packages = PackageStore(settings)
    if not packages.exists(DEFAULT_PACKAGE):
        packages.save(Package(name=DEFAULT_PACKAGE, description="Default hosting package"))
        done.append("created the default package")
    key = settings.secret_key_path
    if not key.exists():
        ensure_dir(key.parent, 0o755)
        replace_file(key, secrets.token_urlsafe(48).encode() + b"\n", 0o600)
        done.append(f"generated {key}")
    return done
