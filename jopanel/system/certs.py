"""Certificates and keys on disk: ROOT/etc/jopanel/ssl/<domain>/, root-only.

    ssl/                     0700 root
      <domain>/              0700 root
        v-<serial>-<rand>/   0700: fullchain.pem, key.pem, meta.json (all 0600)
        current -> v-...     what nginx serves (ssl_certificate .../current/fullchain.pem)

A new certificate is written into its own version directory first; `activate` then
swaps `current` atomically (a reload never sees a new certificate with an old key), and
`restore` points it back when the change that follows fails. Older versions are pruned
once the new one is in service. `meta.json` records the owner account, the mode and the
certificate's facts, so planning and rendering never parse PEM.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from .. import validate
from ..atomic import ensure_dir, replace_symlink, write_new_file
from ..settings import Settings
from .certcheck import CertInfo

CURRENT = "current"


@dataclass(frozen=True)
class StoredCert:
    domain: str
    directory: Path  # the version directory `current` points at
    owner: str
    mode: str
    names: list[str]
    not_after: dt.datetime
    issuer: str
    serial: str

    @property
    def fullchain(self) -> Path:
        return self.directory / "fullchain.pem"

    @property
    def key(self) -> Path:
        return self.directory / "key.pem"

    def valid_for(self, names: list[str], now: dt.datetime | None = None) -> bool:
        from .certcheck import covers

        now = now or dt.datetime.now(dt.UTC)
        if self.not_after <= now or not (self.fullchain.is_file() and self.key.is_file()):
            return False
        return all(any(covers(p, n) for p in self.names) for n in names)


class CertStore:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.base = settings.ssl_dir

    def dir_of(self, domain: str) -> Path:
        return self.base / validate.domain(domain)

    def current_link(self, domain: str) -> Path:
        return self.dir_of(domain) / CURRENT

    def live_paths(self, domain: str) -> tuple[Path, Path]:
        """(fullchain, key) as nginx names them: through `current`."""
        link = self.current_link(domain)
        return link / "fullchain.pem", link / "key.pem"

    # --- writing ------------------------------------------------------------------------
    def stage(
        self, domain: str, owner: str, mode: str, fullchain: bytes, key: bytes, info: CertInfo
    ) -> Path:
        """A new version directory holding the certificate; not served until `activate`."""
        ensure_dir(self.base, 0o700)
        directory = ensure_dir(self.dir_of(domain), 0o700)
        version = directory / f"v-{info.serial[:32]}-{secrets.token_hex(4)}"
        version.mkdir(mode=0o700)
        meta = {
            "domain": domain,
            "owner": owner,
            "mode": mode,
            "names": info.names,
            "not_after": info.not_after_iso,
            "issuer": info.issuer,
            "serial": info.serial,
        }
        write_new_file(version / "key.pem", key, 0o600)
        write_new_file(version / "fullchain.pem", fullchain, 0o600)
        write_new_file(version / "meta.json", json.dumps(meta, indent=1).encode(), 0o600)
        return version

    def activate(self, domain: str, version: Path) -> str | None:
        """Serve `version`; returns what `current` pointed at before (for `restore`)."""
        link = self.current_link(domain)
        previous = os.readlink(link) if link.is_symlink() else None
        replace_symlink(link, version.name)
        return previous

    def restore(self, domain: str, previous: str | None, failed: Path | None = None) -> None:
        """Put `current` back as it was before `activate` and drop the failed version."""
        link = self.current_link(domain)
        if previous is None:
            link.unlink(missing_ok=True)
        else:
            replace_symlink(link, previous)
        if failed is not None:
            shutil.rmtree(failed, ignore_errors=True)

    def prune(self, domain: str) -> None:
        """Remove every version but the one in service."""
        directory = self.dir_of(domain)
        link = self.current_link(domain)
        keep = os.readlink(link) if link.is_symlink() else None
        for entry in _listdir(directory):
            if entry.startswith("v-") and entry != keep:
                shutil.rmtree(directory / entry, ignore_errors=True)

    def remove(self, domain: str) -> bool:
        directory = self.dir_of(domain)
        if not directory.exists():
            return False
        shutil.rmtree(directory)
        return True

    # --- reading ------------------------------------------------------------------------
    def current(self, domain: str) -> StoredCert | None:
        link = self.current_link(domain)
        try:
            target = os.readlink(link)
            meta = json.loads((link / "meta.json").read_text(encoding="utf-8"))
            not_after = dt.datetime.strptime(meta["not_after"], "%Y-%m-%dT%H:%M:%SZ")
        except (OSError, ValueError, KeyError):
            return None
        return StoredCert(
            domain=domain,
            directory=self.dir_of(domain) / target,
            owner=str(meta.get("owner", "")),
            mode=str(meta.get("mode", "")),
            names=[str(n) for n in meta.get("names", [])],
            not_after=not_after.replace(tzinfo=dt.UTC),
            issuer=str(meta.get("issuer", "")),
            serial=str(meta.get("serial", "")),
        )

    def domains(self) -> list[str]:
        return sorted(n for n in _listdir(self.base) if not n.startswith("."))

    def owned_by(self, username: str) -> list[StoredCert]:
        found = []
        for domain in self.domains():
            cert = self.current(domain)
            if cert is not None and cert.owner == username:
                found.append(cert)
        return found


def _listdir(path: Path) -> list[str]:
    try:
        return os.listdir(path)
    except FileNotFoundError:
        return []
