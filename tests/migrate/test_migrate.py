"""Both V1 shapes, 500+ accounts each, migrated into a sandbox root; then re-run and dry-run."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC
from pathlib import Path

from jopanel.auth.passwords import verify_login_password as panel_verify
from jopanel.migrate.backup import table_stats
from jopanel.migrate.normalise import normalise_domain
from jopanel.settings import load_settings
from jopanel.store import ConfigStore
from jopanel.system.accounts import parse_passwd
from jopanel.system.crypt import verify_system_password as shadow_verify
from jopanel.system.sandbox import init_root
from tests.migrate import v1fixture
from tests.migrate.conftest import (
    SHADOW_OF_ADOPTED,
    SUFFIX,
    Migrated,
    end_state,
    run_migration,
    tree,
)


def test_every_v1_row_is_accounted_for_once(migrated: Migrated) -> None:
    fx, report = migrated.fx, migrated.report
    people = Counter(o.v1_id for o in report.outcomes if o.kind in ("account", "admin"))
    assert people == Counter(u["id"] for u in fx.users)
    packages = Counter(o.v1_id for o in report.outcomes if o.kind == "package")
    assert packages == Counter(p["id"] for p in fx.packages)
    store = ConfigStore(migrated.settings)
    served: dict[str, str] = {}
    for name in store.list_usernames():
        for hostname in store.read(name).domains.all_names():
            served[hostname] = name
    skipped_domains = {o.v1_id for o in report.outcomes if o.kind == "domain"}
    failed = {o.v1_id for o in report.outcomes if o.result == "failed"}
    for row in fx.domains:
        if row["user_id"] in failed:
            continue  # reported with its account
        normalised, _reason = normalise_domain(row["domain_name"])
        assert row["id"] in skipped_domains or normalised in served, row


def test_expected_outcomes(migrated: Migrated) -> None:
    fx, report = migrated.fx, migrated.report
    for v1_id, name in fx.accounts.items():
        outcome = migrated.outcome("account", v1_id)
        if name == "user0006":
            assert outcome.result == "failed"
            assert "has home /srv/user0006" in outcome.reason
            continue
        assert (outcome.result, outcome.v2_name) == ("migrated", name), outcome
        assert outcome.action in ("created", "adopted")
    for v1_id, name in fx.admins.items():
        assert (migrated.outcome("admin", v1_id).result, name) == ("migrated", name)
    for v1_id, fragment in fx.skipped.items():
        outcome = next(o for o in report.outcomes if o.v1_id == v1_id and o.kind != "domain"
                       and o.kind != "package")  # fmt: skip
        assert outcome.result == "skipped"
        assert fragment in outcome.reason, (fragment, outcome.reason)
    assert report.counts()["failed"] == 1
    assert migrated.account("user0005").action == "adopted"


def test_v1_is_not_modified(migrated: Migrated) -> None:
    assert v1fixture.checksums(migrated.fx.database) == migrated.checksums


def test_backup_is_a_verified_restorable_dump(migrated: Migrated) -> None:
    backup = migrated.report.backup
    assert backup is not None and backup["verified"] is True
    dump = Path(backup["path"])
    assert dump.parent == migrated.backup_dir and dump.stat().st_mode & 0o777 == 0o600
    text = dump.read_text()
    assert "CREATE TABLE `users`" in text and "$2a$04$" in text
    conn = v1fixture.connect()
    try:
        counts = {t: rows for t, (rows, _sum) in table_stats(conn, migrated.fx.database).items()}
    finally:
        conn.close()
    assert backup["tables"] == counts


def test_accounts_match_their_v1_rows(migrated: Migrated) -> None:
    fx = migrated.fx
    store = ConfigStore(migrated.settings)
    shadow = {
        line.split(":")[0]: line.split(":")[1]
        for line in (migrated.root / "etc/shadow").read_text().splitlines()
    }
    packages = {1: "basic", 2: "pro-plan", 3: "unlimited", 4: "default-4"}
    for v1_id, name in fx.accounts.items():
        if name == "user0006":
            continue
        row = fx.user(v1_id)
        config = store.read(name)
        a = config.account
        assert a.created_at == row["created_at"].replace(tzinfo=UTC)
        want_status = "active" if row["status"] in ("active", "") else "suspended"
        assert a.status == want_status
        if want_status == "suspended":
            assert shadow[name].startswith("!")
        if "@" in row["email"]:
            assert a.contact_email == row["email"].strip()
        else:
            assert a.contact_email == f"{name}@{a.primary_domain}"
        if migrated.shape == "orm" or row["package_id"] not in packages:
            assert a.package == "default"
        else:
            assert a.package == packages[row["package_id"]]
        if name.startswith("reseller") or name.startswith("user"):
            assert a.owner == "admin"
        if migrated.shape == "orm":
            assert a.primary_domain in (f"{name}.{SUFFIX}", f"{name}-{v1_id}.{SUFFIX}")
        if a.package != "default":
            package = next(p for p in fx.packages if p["id"] == row["package_id"])
            limits = config.limits
            assert (limits.disk_quota_mb, limits.bandwidth_quota_mb) == (
                package["disk_quota_mb"],
                package["bandwidth_mb"],
            )
            assert (limits.max_addon_domains, limits.max_databases, limits.max_db_users) == (
                package["max_domains"],
                package["max_databases"],
                package["max_databases"],
            )
            assert limits.max_ftp_accounts == package["max_ftp"]


def test_domains_of_the_documented_shape(documented: Migrated) -> None:
    migrated = documented
    store = ConfigStore(migrated.settings)
    fx = migrated.fx
    v1_id = next(i for i, n in fx.accounts.items() if n == "user0001")
    assert v1_id % 4 == 0  # so the fixture gave it an addon with a subdomain under it
    d = store.read("user0001").domains
    assert d.primary == "user0001.example.com"
    assert [(a.domain, a.docroot) for a in d.addon_domains] == [
        (f"shop{v1_id}.example.net", f"domains/shop{v1_id}.example.net/public_html")
    ]
    assert [(s.subdomain, s.parent, s.docroot) for s in d.subdomains] == [
        ("blog", f"shop{v1_id}.example.net", "blog")
    ]
    # The illegal primary (user0010) and the domain a native V2 account holds (user0012).
    assert store.read("user0010").domains.primary == f"user0010.{SUFFIX}"
    assert store.read("user0012").domains.primary == f"user0012.{SUFFIX}"
    assert "belongs to V2 account nativeone" in " ".join(migrated.account("user0012").notes)
    # IDN duplicates: the unicode one wins (lower id), the punycode spelling is reported.
    dup = [o for o in migrated.report.outcomes if o.kind == "domain" and "duplicate" in o.reason]
    assert dup and all(o.v1_name.startswith("xn--") for o in dup)
    owner = next(n for n in store.list_usernames()
                 if "xn--bcher104-" in " ".join(store.read(n).domains.all_names()))  # fmt: skip
    assert owner == fx.accounts[104]
    assert (migrated.root / "home/user0001/blog").is_dir()
    vhost = migrated.root / "etc/nginx/sites-available/jopanel-user0001.conf"
    assert f"shop{v1_id}.example.net" in vhost.read_text()


def test_v1_passwords_log_in(migrated: Migrated) -> None:
    """The panel verifies the copied bcrypt hash; Linux (libxcrypt) takes it too."""
    from tests.migrate.conftest import _db

    logins = {u: (h, r) for u, h, r in _db(migrated.settings)["logins"]}
    shadow = {
        line.split(":")[0]: line.split(":")[1]
        for line in (migrated.root / "etc/shadow").read_text().splitlines()
    }
    checked = 0
    for name, password in sorted(migrated.fx.passwords.items())[::10]:
        if name == "user0006":
            continue
        if name in migrated.fx.admins.values():
            hashed, _role = logins[name]
            assert panel_verify(password, hashed) == (True, True)
            assert panel_verify(password + "x", hashed) == (False, False)
            continue
        # A hosting account logs in to the panel with its shadow entry (docs/identity.md).
        assert logins.get(name, (None, ""))[0] is None
        if name == "user0005":
            continue
        if not shadow[name].startswith("!"):
            assert shadow_verify(password, shadow[name])
            assert not shadow_verify(password + "x", shadow[name])
        checked += 1
    assert checked > 20
    assert logins["admin"][1] == "admin"
    assert logins["reseller0"] == (None, "reseller")  # the role, on the account's password
    assert "nohash1" not in logins  # no usable V1 hash: no login, reported in its notes
    assert shadow["user0005"] == SHADOW_OF_ADOPTED  # adopted: its own password kept


def test_adopted_user_keeps_uid_home_and_files(migrated: Migrated) -> None:
    entry = parse_passwd(migrated.root / "etc/passwd")["user0005"]
    assert (entry.uid, entry.gid, entry.home) == (15005, 15005, "/home/user0005")
    config = ConfigStore(migrated.settings).read("user0005")
    assert (config.account.uid, config.account.shell) == (15005, "/bin/sh")
    assert (migrated.root / "home/user0005/keep.txt").read_text() == "site data from before\n"


def test_rerun_changes_nothing(migrated: Migrated, tmp_path: Path) -> None:
    skip = ("var/lib/jopanel", "run", "var/log/jopanel")  # the journal records each run
    before_tree = tree(migrated.root, skip)
    before = end_state(migrated.root)
    report = run_migration(migrated.settings, migrated.fx.database, tmp_path / "backups")
    accounts = [o for o in report.outcomes if o.kind == "account" and o.result == "migrated"]
    assert Counter(o.action for o in accounts) == Counter(
        {"unchanged": len(migrated.fx.accounts) - 1}
    )
    assert report.counts() == migrated.report.counts()
    assert end_state(migrated.root) == before
    assert tree(migrated.root, skip) == before_tree


def test_dry_run_over_a_finished_migration(migrated: Migrated) -> None:
    before = tree(migrated.root)
    report = run_migration(migrated.settings, migrated.fx.database, None, dry_run=True)
    assert report.backup is None
    assert {o.action for o in report.outcomes if o.kind == "account"} <= {"unchanged", ""}
    assert tree(migrated.root) == before


def test_dry_run_on_a_fresh_root_writes_nothing(migrated: Migrated, tmp_path: Path) -> None:
    root = tmp_path / "fresh"
    init_root(load_settings(root))
    before = tree(root)
    databases = _databases()
    report = run_migration(load_settings(root), migrated.fx.database, tmp_path / "b", dry_run=True)
    assert tree(root) == before
    assert not (tmp_path / "b").exists()
    assert _databases() == databases
    accounts = [o for o in report.outcomes if o.kind == "account" and o.result == "migrated"]
    assert len(accounts) == len(migrated.fx.accounts)
    assert {o.action for o in accounts} == {"would create"}
    assert json.dumps(report.to_dict(), default=str)


def _databases() -> list[str]:
    conn = v1fixture.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW DATABASES")
            return sorted(row[0] for row in cur.fetchall())
    finally:
        conn.close()


def test_index_lists_every_migrated_account(migrated: Migrated) -> None:
    from tests.migrate.conftest import _db

    index = {row[0] for row in _db(migrated.settings)["index"]}
    migrated_names = {
        o.v2_name
        for o in migrated.report.outcomes
        if o.kind == "account" and o.result == "migrated"
    }
    assert migrated_names <= index
