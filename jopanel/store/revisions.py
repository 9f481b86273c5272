"""The config store: per-user revisions swapped in atomically through a symlink.

Layout (see docs/store.md for why):

    users/<name>                       -> .revisions/<name>/00000042   (symlink)
    users/.revisions/<name>/00000042/  account.json limits.json ... meta.json

A write builds a complete new revision directory (files created once, fsynced, the
directory fsynced, then renamed into place), then swaps the symlink with os.replace of
a temporary symlink and fsyncs users/. Whatever instant a crash hits, users/<name>
points at a complete revision; leftovers of an interrupted write are removed by the next
write under the same lock.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .. import validate
from ..atomic import ensure_dir, fsync_dir, replace_symlink, write_new_file
from ..errors import ConfigCorrupt, Conflict, NotFound, StaleRevision, ValidationFailed
from ..schemas import FILE_NAMES, KINDS, UserConfig, compute_revision
from ..schemas.bundle import render_document
from ..settings import Settings
from .locks import user_lock

SEQ_RE = re.compile(r"^[0-9]{8}$")
_held = threading.local()


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class WriteResult:
    config: UserConfig
    changed: bool


@dataclass(frozen=True)
class Inspection:
    """What is on disk for one account, checked against its own revision stamp."""

    username: str
    seq: int
    stored_revision: str | None
    computed_revision: str | None
    error: ValidationFailed | None

    @property
    def hand_edited(self) -> bool:
        return self.stored_revision != self.computed_revision

    @property
    def consistent(self) -> bool:
        return not self.hand_edited and self.error is None


@dataclass(frozen=True)
class RevisionInfo:
    seq: int
    revision: str
    action: str
    actor: str
    time: str | None
    current: bool


class ConfigStore:
    """Reads and writes accounts' six files. Reads are lock-free; writes hold the user lock."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.users_dir = settings.users_dir
        self.revisions_dir = settings.revisions_dir

    # --- locking ---------------------------------------------------------------------
    @contextmanager
    def lock(self, username: str) -> Iterator[None]:
        """Hold the account's exclusive lock; re-entrant within one thread."""
        held: set[str] = _held.__dict__.setdefault("names", set())
        key = f"{self.settings.root}:{username}"
        if key in held:
            yield
            return
        with user_lock(self.settings, username):
            held.add(key)
            try:
                yield
            finally:
                held.discard(key)

    # --- reading ---------------------------------------------------------------------
    def list_usernames(self) -> list[str]:
        if not self.users_dir.is_dir():
            return []
        names = []
        for entry in os.scandir(self.users_dir):
            if entry.name.startswith(".") or not entry.is_symlink():
                continue
            names.append(entry.name)
        return sorted(names)

    def exists(self, username: str) -> bool:
        return self._link(username).is_symlink()

    def _link(self, username: str) -> Path:
        if "/" in username or username.startswith(".") or not username:
            raise ValidationFailed("is not a plain name", field="username")
        return self.users_dir / username

    def _current(self, username: str) -> tuple[int, Path] | None:
        link = self._link(username)
        try:
            target = os.readlink(link)
        except FileNotFoundError:
            return None
        except OSError as exc:  # EINVAL: a plain file or directory where the link belongs
            raise ConfigCorrupt(
                f"{link} is not a revision symlink ({exc.strerror})", field=username
            ) from None
        seq_name = Path(target).name
        expected = f".revisions/{username}/{seq_name}"
        if target != expected or not SEQ_RE.fullmatch(seq_name):
            raise ConfigCorrupt(f"{link} points at {target!r}, not a revision", field=username)
        return int(seq_name), self.revisions_dir / username / seq_name

    @staticmethod
    def _read_documents(directory: Path) -> dict[str, Any]:
        documents: dict[str, Any] = {}
        for kind in KINDS:
            path = directory / FILE_NAMES[kind]
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise ConfigCorrupt(f"cannot open: {exc}", field=FILE_NAMES[kind]) from exc
            with os.fdopen(fd, "rb") as handle:
                raw = handle.read()
            try:
                documents[kind] = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ValidationFailed(f"is not valid JSON: {exc}", field=FILE_NAMES[kind]) from exc
        return documents

    def read_documents(self, username: str) -> tuple[int, dict[str, Any]]:
        """The raw parsed files of the current revision (retrying if pruned under us)."""
        for _ in range(5):
            current = self._current(username)
            if current is None:
                raise NotFound(f"no account {username!r}", field="username")
            seq, directory = current
            if directory.is_dir():
                documents = self._read_documents(directory)
                # Files missing because the revision was pruned while we read: try again.
                if len(documents) == len(KINDS) or self._current(username) == current:
                    return seq, documents
        raise ConfigCorrupt("current revision directory is missing", field=username)

    def read(self, username: str) -> UserConfig:
        """The validated config of an account."""
        _seq, documents = self.read_documents(username)
        return UserConfig.from_documents(documents)

    def inspect(self, username: str) -> Inspection:
        """Check that the files form the revision meta.json claims (spots hand edits).

        A file that is not even JSON is reported in `error`, not raised, so one torn
        account cannot stop a reconcile of all the others.
        """
        try:
            seq, documents = self.read_documents(username)
        except ValidationFailed as exc:
            current = self._current(username)
            return Inspection(username, current[0] if current else 0, None, None, exc)
        stored, computed = _stamps(documents)
        error = None
        try:
            UserConfig.from_documents(documents)
        except ValidationFailed as exc:
            error = exc
        return Inspection(username, seq, stored, computed, error)

    # --- writing ---------------------------------------------------------------------
    def write(
        self,
        config: UserConfig,
        *,
        expected_revision: str | None,
        actor: str,
        action: str,
        create: bool = False,
        adopt: bool = False,
    ) -> WriteResult:
        """Store `config` as the next revision.

        `expected_revision` is the revision the caller read (compare-and-swap); None
        means "whatever is current" for internal read-modify-write under the lock.
        Nothing is written when the content is unchanged.
        """
        username = validate.username(config.username)
        with self.lock(username):
            current = self._current(username)
            if create and current is not None:
                raise Conflict(f"account {username!r} already exists", field="username")
            if not create and current is None:
                raise NotFound(f"no account {username!r}", field="username")
            seq = 0
            if current is not None:
                seq, directory = current
                documents = self._read_documents(directory)
                stored, computed = _stamps(documents)
                if not adopt and (computed is None or computed != stored):
                    raise Conflict(
                        "configuration was edited by hand; run 'jopanel reconcile' first",
                        field=username,
                    )
                if expected_revision is not None and expected_revision != stored:
                    raise StaleRevision(
                        f"revision {expected_revision} is stale; current is {stored}",
                        field="revision",
                    )
                # meta is outside the revision hash: its notes and origin count on their own.
                stored_meta = documents.get("meta", {})
                same_meta = config.meta.notes == stored_meta.get("notes") and (
                    config.meta.origin == stored_meta.get("origin")
                )
                if not adopt and same_meta and config.content_revision() == stored:
                    return WriteResult(self.read(username), changed=False)
            else:
                self._archive_orphan(username)
            now = utcnow()
            if current is not None:
                updated = _later_than(now, documents.get("account", {}).get("updated_at"))
                config = config.with_(
                    account=config.account.model_copy(update={"updated_at": updated})
                )
            audit = config.meta.audit.model_copy(
                update={"last_action": action[:64], "last_actor": actor[:64], "last_time": now}
            )
            stamped = config.with_(meta=config.meta.model_copy(update={"audit": audit})).stamped()
            self._write_revision(username, seq, stamped)
            return WriteResult(stamped, changed=True)

    def _write_revision(self, username: str, seq: int, config: UserConfig) -> None:
        ensure_dir(self.users_dir, 0o700)
        ensure_dir(self.revisions_dir, 0o700)
        user_revisions = ensure_dir(self.revisions_dir / username, 0o700)
        self._remove_leftovers(user_revisions, seq)
        new_seq = seq + 1
        tmp = user_revisions / f".tmp-{new_seq:08d}-{secrets.token_hex(4)}"
        tmp.mkdir(mode=0o700)
        os.chmod(tmp, 0o700)
        for kind in KINDS:
            write_new_file(tmp / FILE_NAMES[kind], render_document(getattr(config, kind)))
        fsync_dir(tmp)
        final = user_revisions / f"{new_seq:08d}"
        os.rename(tmp, final)
        fsync_dir(user_revisions)
        self._swap(username, f".revisions/{username}/{final.name}")
        self._prune(user_revisions, new_seq)

    def _swap(self, username: str, target: str) -> None:
        # A fixed temp name (safe under the user lock) so a crash between creating the
        # temp symlink and renaming it leaves nothing that the next write does not replace.
        replace_symlink(self._link(username), target, temp_name=f".{username}.lnk")

    @staticmethod
    def _remove_leftovers(user_revisions: Path, current_seq: int) -> None:
        """Drop what an interrupted write left: temp dirs and revisions never swapped in."""
        for entry in user_revisions.iterdir():
            name = entry.name
            if name.startswith(".tmp-") or (SEQ_RE.fullmatch(name) and int(name) > current_seq):
                shutil.rmtree(entry)

    def _prune(self, user_revisions: Path, current_seq: int) -> None:
        keep_from = current_seq - self.settings.history_limit + 1
        for entry in user_revisions.iterdir():
            if SEQ_RE.fullmatch(entry.name) and int(entry.name) < keep_from:
                # Rename first: a crash mid-rmtree then leaves a .tmp- leftover (removed by
                # the next write), never a half-deleted revision listed in the history.
                doomed = entry.with_name(f".tmp-pruned-{entry.name}")
                os.rename(entry, doomed)
                shutil.rmtree(doomed)

    def _archive_orphan(self, username: str) -> None:
        """A revisions dir with no symlink is a create or delete cut short: set it aside."""
        orphan = self.revisions_dir / username
        if orphan.exists():
            self._move_to_archive(orphan, f"{username}-orphan")

    def _move_to_archive(self, source: Path, label: str) -> Path:
        archive = ensure_dir(self.settings.archive_dir, 0o700)
        stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
        destination = archive / f"{label}-{stamp}-{secrets.token_hex(3)}"
        os.rename(source, destination)
        fsync_dir(archive)
        fsync_dir(source.parent)
        return destination

    def archive(self, username: str) -> Path:
        """Remove the account's config, keeping every revision under archive/."""
        with self.lock(username):
            if self._current(username) is None:
                raise NotFound(f"no account {username!r}", field="username")
            self._link(username).unlink()
            fsync_dir(self.users_dir)
            return self._move_to_archive(self.revisions_dir / username, username)

    def restore_archive(self, username: str, archived: Path) -> None:
        """Undo `archive` (rollback of a delete that failed later on)."""
        with self.lock(username):
            user_revisions = self.revisions_dir / username
            os.rename(archived, user_revisions)
            seqs = sorted(int(p.name) for p in user_revisions.iterdir() if SEQ_RE.fullmatch(p.name))
            self._swap(username, f".revisions/{username}/{seqs[-1]:08d}")

    def revert_to(self, username: str, seq: int) -> None:
        """Make revision `seq` current again exactly (rollback of a failed change)."""
        with self.lock(username):
            user_revisions = self.revisions_dir / username
            if not (user_revisions / f"{seq:08d}").is_dir():
                raise NotFound(f"no revision {seq} of {username!r}", field="revision")
            self._swap(username, f".revisions/{username}/{seq:08d}")
            self._remove_leftovers(user_revisions, seq)

    def remove(self, username: str) -> None:
        """Delete an account's config outright (rollback of a create)."""
        with self.lock(username):
            self._link(username).unlink(missing_ok=True)
            shutil.rmtree(self.revisions_dir / username, ignore_errors=True)
            fsync_dir(self.users_dir)

    # --- history ---------------------------------------------------------------------
    def history(self, username: str) -> list[RevisionInfo]:
        current = self._current(username)
        if current is None:
            raise NotFound(f"no account {username!r}", field="username")
        infos = []
        for entry in sorted((self.revisions_dir / username).iterdir()):
            if not SEQ_RE.fullmatch(entry.name) or int(entry.name) > current[0]:
                continue
            meta = self._read_documents(entry).get("meta", {})
            audit = meta.get("audit", {})
            infos.append(
                RevisionInfo(
                    seq=int(entry.name),
                    revision=str(meta.get("last_applied_revision", "")),
                    action=str(audit.get("last_action", "")),
                    actor=str(audit.get("last_actor", "")),
                    time=audit.get("last_time"),
                    current=int(entry.name) == current[0],
                )
            )
        return infos

    def revision_documents(self, username: str, seq: int) -> dict[str, Any]:
        directory = self.revisions_dir / username / f"{seq:08d}"
        if not directory.is_dir():
            raise NotFound(f"no revision {seq} of {username!r}", field="revision")
        return self._read_documents(directory)

    def diff(self, username: str, old_seq: int, new_seq: int) -> list[dict[str, Any]]:
        """Field-level differences between two revisions, as dotted paths."""
        old = _flatten(self.revision_documents(username, old_seq))
        new = _flatten(self.revision_documents(username, new_seq))
        changes = []
        for path in sorted(old.keys() | new.keys()):
            if path.startswith("meta.") or old.get(path) == new.get(path):
                continue
            changes.append({"path": path, "old": old.get(path), "new": new.get(path)})
        return changes

    def rollback(
        self, username: str, seq: int, *, expected_revision: str | None, actor: str
    ) -> WriteResult:
        """Make an earlier revision current again, as a new revision."""
        with self.lock(username):
            config = UserConfig.from_documents(self.revision_documents(username, seq))
            return self.write(
                config, expected_revision=expected_revision, actor=actor, action=f"rollback:{seq}"
            )

    def adopt(self, username: str, *, actor: str) -> WriteResult:
        """Take a valid hand edit in as a new revision; an invalid one raises, naming the field."""
        with self.lock(username):
            _seq, documents = self.read_documents(username)
            config = UserConfig.from_documents(documents)
            return self.write(
                config, expected_revision=None, actor=actor, action="reconcile:adopt", adopt=True
            )


def _stamps(documents: dict[str, Any]) -> tuple[str | None, str | None]:
    """The revision meta.json claims, and the one the files add up to (None if they cannot)."""
    meta = documents.get("meta")
    stored = meta.get("last_applied_revision") if isinstance(meta, dict) else None
    try:
        computed: str | None = compute_revision(documents)
    except (KeyError, TypeError):  # a file is missing
        computed = None
    return (stored if isinstance(stored, str) else None), computed


def _later_than(now: datetime, previous: Any) -> datetime:
    """`now`, or a microsecond after `previous` when the clock has not passed it.

    updated_at is part of the revision hash. Without this, two writes within one second
    that change only meta.json (notes) hash alike, and compare-and-swap cannot tell them
    apart: a stale update would be accepted and silently lose the other one.
    """
    try:
        before = datetime.fromisoformat(str(previous))
    except ValueError:
        return now
    if before.tzinfo is None or now > before:
        return now
    return before + timedelta(microseconds=1)


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: value}
