"""What the clients were promised: every answered request, and per account the state its
2xx answers add up to.

Each account is driven by one client only, so its model is exact as long as every change
was answered. A change that got no answer (a killed process, a 5xx) may or may not have
happened: the fields it touches become `unsure` until the owner reads them back; every
other field is still checked against what was promised.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

# The agent op each accepted change must leave in the audit journal.
JOURNAL_ACTION = {
    "user.create": "create_user",
    "user.update": "update_user_config",
    "user.suspend": "suspend_user",
    "user.unsuspend": "unsuspend_user",
    "user.password": "set_password",
    "user.delete": "delete_user",
    "domain.add": "domain_add",
    "domain.remove": "domain_remove",
    "key.add": "ssh_key_add",
    "key.remove": "ssh_key_remove",
    "cron.add": "cron_add",
    "cron.remove": "cron_remove",
    "file.save": "file_upload",
    "file.mkdir": "file_mkdir",
    "file.delete": "file_delete",
    "db.create": "db_create",
    "db.delete": "db_delete",
}


@dataclass
class Sample:
    """One request (API or CLI) and how it was answered."""

    kind: str
    via: str  # "api" or "cli"
    start: float  # wall clock, to compare with down windows and the journal
    end: float
    status: int | None  # HTTP status, CLI exit code + 1000, None: no answer
    target: str | None = None
    detail: str = ""

    @property
    def ms(self) -> float:
        return (self.end - self.start) * 1000

    @property
    def accepted(self) -> bool:
        return self.status is not None and (200 <= self.status < 300 or self.status == 1000)


@dataclass
class Account:
    """The promised state of one account (None: it must not exist)."""

    name: str
    worker: str
    exists: bool = False
    password: str = ""
    uid: int | None = None
    status: str = "active"
    email: str = ""
    notes: str = ""
    primary: str = ""
    domains: set[str] = field(default_factory=set)
    keys: set[str] = field(default_factory=set)  # base64 part of each key line
    cron: set[str] = field(default_factory=set)  # job ids
    files: dict[str, str] = field(default_factory=dict)  # path under the home -> content
    dbs: set[str] = field(default_factory=set)
    unsure: set[str] = field(default_factory=set)
    files_unsure: set[str] = field(default_factory=set)  # paths a lost answer may have changed
    pending_password: str = ""  # the last one asked for, promised or not
    password_unsure: bool = False  # either `password` or `pending_password` logs in
    failed_create: bool = False  # the last create was refused with a 500
    created_unanswered: bool = False  # it exists through a create that got no answer
    drifting: bool = False  # a change got no answer since the last accepted one
    incarnation: int = 0  # bumped by every create

    # --- compare with the six documents (GET /api/admin/users/NAME, or the files) ----
    def compare(self, docs: dict[str, Any] | None) -> list[str]:
        """What differs from the documents, skipping unsure fields."""
        if "exists" in self.unsure and (docs is None or not self.exists):
            return []  # a create or delete that may or may not have happened
        if docs is None:
            return (
                [f"{self.name}: promised to exist, but there is no config"] if self.exists else []
            )
        if not self.exists:
            return [f"{self.name}: promised deleted, but its config exists"]
        wrong: list[str] = []
        seen = facts(docs)
        for key, promised in self.facts().items():
            if key not in self.unsure and seen[key] != promised:
                wrong.append(f"{self.name}: {key} is {seen[key]!r}, promised {promised!r}")
        return wrong

    def facts(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "status": self.status,
            "email": self.email,
            "notes": self.notes,
            "domains": sorted(self.domains),
            "keys": sorted(self.keys),
            "cron": sorted(self.cron),
            "dbs": sorted(self.dbs),
        }

    def adopt(self, docs: dict[str, Any] | None) -> None:
        """Take unsure fields from what the server now says (after a lost answer)."""
        if "exists" in self.unsure:
            if docs is None:
                self.reset()
            elif not self.exists:  # an unanswered create went through: all of it is new
                self.reset()
                self.exists = True
                self.password = self.pending_password
                self.primary = docs["account"]["primary_domain"]
                self.unsure |= set(self.facts())
        if docs is not None:
            seen = facts(docs)
            for key in self.unsure & set(seen):
                value = seen[key]
                setattr(self, key, set(value) if isinstance(value, list) else value)
        self.unsure -= {"exists", *self.facts()}

    def reset(self) -> None:
        """A deleted account: nothing of it is promised any more."""
        self.exists = False
        self.uid = None
        self.status = "active"
        self.notes = ""
        self.domains, self.keys, self.cron, self.files, self.dbs = set(), set(), set(), {}, set()
        self.files_unsure = set()
        self.password_unsure = False
        self.drifting = False


def facts(docs: dict[str, Any]) -> dict[str, Any]:
    """The promised fields as they stand in an account's documents."""
    services = docs.get("services", {})
    return {
        "uid": docs["account"]["uid"],
        "status": docs["account"]["status"],
        "email": docs["account"]["contact_email"],
        "notes": docs.get("meta", {}).get("notes", ""),
        "domains": sorted(d["domain"] for d in docs["domains"].get("addon_domains", [])),
        "keys": sorted(key_blob(k) for k in docs["ssh"].get("authorized_keys", [])),
        "cron": sorted(j["id"] for j in services.get("cron", {}).get("jobs", [])),
        "dbs": sorted(d["name"] for d in services.get("databases", {}).get("databases", [])),
    }


def key_blob(line: str) -> str:
    parts = line.split()
    return parts[1] if len(parts) > 1 else line


class Ledger:
    """Every answer, every account, and every uid a create answered with."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.samples: list[Sample] = []
        self.accounts: dict[str, Account] = {}
        self.uids: dict[int, tuple[str, int]] = {}  # uid -> (name, incarnation)
        self.violations: list[str] = []
        self.notes: list[str] = []
        self.checked: dict[str, int] = {}  # what the end checks looked at, for the report
        self.uid_samples = 0

    def record(self, sample: Sample) -> None:
        with self.lock:
            self.samples.append(sample)

    def violation(self, message: str) -> None:
        with self.lock:
            self.violations.append(message)

    def note(self, message: str) -> None:
        with self.lock:
            self.notes.append(message)

    def saw_uid(self, account: Account, uid: int) -> None:
        with self.lock:
            holder = self.uids.get(uid)
            mine = (account.name, account.incarnation)
            if holder is not None and holder != mine:
                self.violations.append(
                    f"uid {uid} given to {account.name} (#{account.incarnation}) was already "
                    f"given to {holder[0]} (#{holder[1]})"
                )
            self.uids[uid] = mine
