"""Server-wide domain ownership: one claim per hostname.

`etc/jopanel/domains/<hostname>` is a symlink whose target is the owning username.
Creating a symlink is atomic and fails if the name exists, so two accounts can never
both claim a domain. The claims are derived data: `rebuild` recreates them from the
accounts' domains.json, which stays the truth.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from .. import validate
from ..errors import Conflict
from ..settings import Settings
from .atomic import ensure_dir, fsync_dir
from .locks import global_lock
from .revisions import ConfigStore


class DomainClaims:
    def __init__(self, settings: Settings, store: ConfigStore) -> None:
        self.settings = settings
        self.store = store
        self.directory = settings.domain_claims_dir

    def owner(self, hostname: str) -> str | None:
        try:
            return os.readlink(self.directory / validate.domain(hostname))
        except FileNotFoundError:
            return None

    def _still_owns(self, username: str, hostname: str) -> bool:
        """A claim whose owner no longer lists the domain is a leftover of a crash."""
        try:
            return hostname in self.store.read(username).domains.all_names()
        except Exception:  # noqa: BLE001 - an unreadable owner cannot keep a claim alive
            return False

    def claim(self, username: str, hostnames: Iterable[str]) -> list[str]:
        """Claim every hostname for `username`, all or none. Returns the newly claimed ones."""
        names = [validate.domain(h) for h in hostnames]
        ensure_dir(self.directory, 0o700)
        claimed: list[str] = []
        with global_lock(self.settings, "domains"):
            try:
                for name in names:
                    current = self.owner(name)
                    if current == username:
                        continue
                    if current is not None and self._still_owns(current, name):
                        raise Conflict(f"{name} already belongs to another account", field="domain")
                    link = self.directory / name
                    link.unlink(missing_ok=True)
                    os.symlink(username, link)
                    claimed.append(name)
            except BaseException:
                self._unlink(claimed)
                raise
            fsync_dir(self.directory)
        return claimed

    def release(self, username: str, hostnames: Iterable[str]) -> None:
        """Drop claims `username` holds; claims of other accounts are left alone."""
        names = [validate.domain(h) for h in hostnames]  # the claims are stored lowercased
        with global_lock(self.settings, "domains"):
            self._unlink([h for h in names if self.owner(h) == username])

    def _unlink(self, names: list[str]) -> None:
        for name in names:
            (self.directory / name).unlink(missing_ok=True)
        if names:
            fsync_dir(self.directory)

    def rebuild(self) -> dict[str, str]:
        """Recreate every claim from the accounts' files; returns hostname -> owner.

        Claims of an account whose files do not validate are kept as they are: its
        domains stay reserved until reconcile can read it again.
        """
        wanted: dict[str, str] = {}
        unreadable: set[str] = set()
        accounts = set(self.store.list_usernames())
        for username in accounts:
            try:
                for name in self.store.read(username).domains.all_names():
                    wanted[name] = username
            except Exception:  # noqa: BLE001 - reported by reconcile, not here
                unreadable.add(username)
        ensure_dir(self.directory, 0o700)
        with global_lock(self.settings, "domains"):
            for entry in os.scandir(self.directory):
                owner = os.readlink(entry.path)
                if owner in unreadable and entry.name not in wanted:
                    wanted[entry.name] = owner
                elif wanted.get(entry.name) != owner:
                    os.unlink(entry.path)
            for name, owner in wanted.items():
                if not (self.directory / name).is_symlink():
                    os.symlink(owner, self.directory / name)
            fsync_dir(self.directory)
        return wanted
