"""Server-wide domain ownership: one claim per hostname.

`etc/jopanel/domains/<hostname>` is a symlink whose target is the owning username.
Creating a symlink is atomic and fails if the name exists, so two accounts can never
both claim a domain. The claims are derived data: `rebuild` recreates them from the
accounts' domains.json, which stays the truth.

A claim also keeps the names around it: no account may claim a name below another
account's domain (`shop.example.com` under `example.com`) nor above one (`example.com`
over `bert.example.com`: holding it would block every later name under it). Names the
hosting provider keeps for itself (`etc/jopanel/reserved-domains`, one per line) and
every name below them are claimed by no account.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from .. import validate
from ..atomic import ensure_dir, fsync_dir, replace_file
from ..errors import Conflict, JoPanelError, NotFound, ValidationFailed
from ..settings import Settings
from .locks import global_lock, user_lock
from .revisions import ConfigStore

RESERVED_HEADER = (
    "# Domains of the hosting provider: no account may claim one of these or a name below it.\n"
    "# One name per line; change it with `jopanel domain reserved` or the admin API.\n"
)


def within(name: str, domain: str) -> bool:
    """`name` is `domain` or a name below it."""
    return name == domain or name.endswith(f".{domain}")


class ReservedDomains:
    """The provider's own domains (`etc/jopanel/reserved-domains`), a server-wide setting."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.path = settings.etc_dir / "reserved-domains"

    def names(self) -> list[str]:
        """The reserved names, sorted. A line that is not a hostname is refused (422), so a
        bad hand edit stops new claims rather than silently reserving less."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        names = set()
        for number, line in enumerate(text.splitlines(), 1):
            entry = line.split("#", 1)[0].strip()
            if entry:
                names.add(validate.domain(entry, field=f"reserved-domains line {number}"))
        return sorted(names)

    def covering(self, hostname: str) -> str | None:
        """The reserved name `hostname` is or is under, if any."""
        return next((r for r in self.names() if within(hostname, r)), None)

    def save(self, names: Iterable[str]) -> list[str]:
        """Write the list (validated, deduplicated, sorted); returns it."""
        wanted = sorted({validate.domain(n, field="domains") for n in names})
        ensure_dir(self.path.parent, 0o700)
        body = RESERVED_HEADER + "".join(f"{n}\n" for n in wanted)
        with global_lock(self.settings, "domains"):
            replace_file(self.path, body.encode(), 0o644)
        return wanted


class DomainClaims:
    def __init__(self, settings: Settings, store: ConfigStore) -> None:
        self.settings = settings
        self.store = store
        self.directory = settings.domain_claims_dir
        self.reserved = ReservedDomains(settings)

    def owner(self, hostname: str) -> str | None:
        try:
            return os.readlink(self.directory / validate.domain(hostname))
        except FileNotFoundError:
            return None

    def claimed_below(self, hostname: str) -> list[tuple[str, str]]:
        """(name, owner) of every claim strictly below `hostname`."""
        suffix = f".{validate.domain(hostname)}"
        try:
            entries = [e.name for e in os.scandir(self.directory) if e.name.endswith(suffix)]
        except FileNotFoundError:
            return []
        found = []
        for name in sorted(entries):
            owner = self.owner(name)
            if owner is not None:
                found.append((name, owner))
        return found

    def _neighbour_conflict(self, username: str, name: str) -> str | None:
        """Why another account's live claim above or below `name` forbids it, if one does."""
        labels = name.split(".")
        for start in range(1, len(labels) - 1):
            above = ".".join(labels[start:])
            owner = self.owner(above)
            if owner is not None and owner != username and self._still_owns(owner, above):
                return f"{name} is under {above}, which belongs to another account"
        for below, owner in self.claimed_below(name):
            if owner != username and self._still_owns(owner, below):
                return f"{name} is above {below}, which belongs to another account"
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
                    reserved = self.reserved.covering(name)
                    if reserved is not None:
                        raise Conflict(
                            f"{name} is reserved by the hosting provider ({reserved})",
                            field="domain",
                        )
                    # Checked again here, under the domains lock, so two accounts adding
                    # example.com and bert.example.com at once cannot both succeed.
                    problem = self._neighbour_conflict(username, name)
                    if problem is not None:
                        raise Conflict(problem, field="domain")
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
