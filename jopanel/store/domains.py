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
from ..atomic import ensure_dir, fsync_dir
from ..errors import Conflict, JoPanelError, NotFound, ValidationFailed
from ..settings import Settings
from .locks import global_lock, user_lock
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
        """Whether `username`'s claim on `hostname` is live.

        Flows claim a domain first and write it into domains.json next, both under the
        account's lock; so a claim whose owner is mid-change (lock held) is live. Only
        when the owner is idle and does not list the domain is the claim the leftover
        of a crash. An owner whose files do not validate keeps its domains, as in
        `rebuild`, until reconcile can read it again.
        """
        if self._busy(username):
            return True
        try:
            return hostname in self.store.read(username).domains.served_names()
        except NotFound:
            return False
        except JoPanelError:
            return True

    def _busy(self, username: str) -> bool:
        """Whether some process holds `username`'s lock right now (never waits for it).

        A try-lock while holding the domains lock cannot deadlock, since it never waits.
        """
        try:
            with user_lock(self.settings, username, timeout=0):
                return False
        except ValidationFailed:  # a hand-made claim naming no possible account
            return False
        except Conflict:
            return True

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
                for name in self.store.read(username).domains.served_names():
                    wanted[name] = username
            except Exception:  # noqa: BLE001 - reported by reconcile, not here
                unreadable.add(username)
        ensure_dir(self.directory, 0o700)
        with global_lock(self.settings, "domains"):
            for entry in os.scandir(self.directory):
                owner = os.readlink(entry.path)
                if entry.name not in wanted and (owner in unreadable or self._busy(owner)):
                    wanted[entry.name] = owner  # kept: unreadable, or claimed mid-change
                elif wanted.get(entry.name) != owner:
                    os.unlink(entry.path)
            for name, owner in wanted.items():
                if not (self.directory / name).is_symlink():
                    os.symlink(owner, self.directory / name)
            fsync_dir(self.directory)
        return wanted
