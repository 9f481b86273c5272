"""The soak harness's end checks find what they are meant to find (each on a state broken
on purpose), so a run that reports `violations: 0` means something."""

from __future__ import annotations

import json
import time
from pathlib import Path

from soak import checks
from soak.cluster import Cluster, Window
from soak.ledger import Account, Ledger, Sample
from tests.conftest import cli


def make_account(root: Path, name: str = "joko") -> None:
    domain, email = f"{name}.example.com", f"{name}@example.com"
    cli(root, "user", "create", name, "--domain", domain, "--email", email, "--password-stdin",
        input="correct horse 1\n")  # fmt: skip


def test_revisions_and_orphans_are_clean_after_a_create(root: Path) -> None:
    make_account(root)
    assert checks.check_revisions(root) == []
    assert checks.orphans(root) == []


def test_a_hand_edit_breaks_the_revision(root: Path) -> None:
    make_account(root)
    path = root / "etc/jopanel/users/joko/account.json"
    data = json.loads(path.read_text())
    data["contact_email"] = "edited@example.com"
    path.write_text(json.dumps(data))
    assert [p for p in checks.check_revisions(root) if "do not add up" in p]


def test_a_linux_user_without_config_is_an_orphan(root: Path) -> None:
    with (root / "etc/passwd").open("a") as passwd:
        passwd.write("ghost:x:20042:20042::/home/ghost:/bin/sh\n")
    (root / "home/ghost").mkdir()
    assert checks.orphans(root) == [
        "orphan: Linux user ghost belongs to no account",
        "orphan: home ghost belongs to no account",
    ]


def test_the_ledger_compares_promises_and_skips_unsure_fields(root: Path) -> None:
    make_account(root)
    docs = checks.accounts_on_disk(root)["joko"]
    assert docs is not None
    account = Account("joko", "a", exists=True, uid=docs["account"]["uid"],
                      email="joko@example.com")  # fmt: skip
    assert account.compare(docs) == []
    account.email = "promised@example.com"
    assert account.compare(docs) == [
        "joko: email is 'joko@example.com', promised 'promised@example.com'"
    ]
    account.unsure.add("email")
    assert account.compare(docs) == []
    assert Account("joko", "a", exists=False).compare(docs) == [
        "joko: promised deleted, but its config exists"
    ]


def test_a_change_without_its_journal_line_is_reported(root: Path) -> None:
    make_account(root)
    now = time.time()
    done = Sample("cli.user.create", "cli", now - 60, now, 1000, "joko")
    assert checks.check_audit(root, [done]) == []  # the create's own line matches
    missing = Sample("user.suspend", "api", now - 1, now, 200, "joko")
    assert checks.check_audit(root, [missing]) == [
        "audit: no journal entry for user.suspend joko answered 200"
    ]


def test_5xx_only_while_the_agent_was_down(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path)
    cluster.shim_dir.mkdir()
    now = time.time()
    cluster.windows.append(Window("agent", now - 100, now - 90))
    cluster.windows.append(Window("api", now - 50, now - 45))
    ledger = Ledger()
    ledger.record(Sample("user.get", "api", now - 95, now - 94, 503))  # agent down: fine
    ledger.record(Sample("user.get", "api", now - 48, now - 47, None))  # API down: fine
    ledger.record(Sample("user.get", "api", now - 20, now - 19, 503))
    ledger.record(Sample("user.update", "api", now - 95, now - 94, 500))
    ledger.record(Sample("user.get", "api", now - 20, now - 19, None))
    assert len(checks.check_answers(cluster, ledger)) == 3
    # A create's 500 is excused only when the useradd shim fired while it ran.
    (cluster.shim_dir / "fired.log").write_text(f"{now - 10.5}\n")
    ledger.samples = [Sample("user.create", "api", now - 11, now - 10, 500)]
    assert checks.check_answers(cluster, ledger) == []
    ledger.samples = [Sample("user.create", "api", now - 5, now - 4, 500)]
    assert len(checks.check_answers(cluster, ledger)) == 1
