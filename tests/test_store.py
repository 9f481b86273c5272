"""The config store's invariants (SPEC §3), on real files in a sandbox root built by init."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydantic
import pytest

from jopanel.errors import ConfigCorrupt, Conflict, NotFound, StaleRevision, ValidationFailed
from jopanel.schemas import Package, UserConfig
from jopanel.schemas.hosting import Cron, CronJob
from jopanel.settings import Settings, load_settings
from jopanel.store import DEFAULT_PACKAGE, ConfigStore, DomainClaims, PackageStore
from tests.conftest import cli
from tests.store_writer import SIX, check_account, create, current_dir, load_six, spec_revision


@pytest.fixture
def store(settings: Settings) -> ConfigStore:
    return ConfigStore(settings)


@pytest.fixture
def joko(store: ConfigStore) -> UserConfig:
    return create(store, "joko")


def update(
    store: ConfigStore, config: UserConfig, expected: str | None = None, **parts: Any
) -> Any:
    return store.write(
        config.with_(**parts),
        expected_revision=config.revision if expected is None else expected,
        actor="test",
        action="update",
    )


def with_notes(
    store: ConfigStore, config: UserConfig, notes: str, expected: str | None = None
) -> Any:
    return update(store, config, expected, meta=config.meta.model_copy(update={"notes": notes}))


def snapshot(directory: Path) -> dict[str, Any]:
    """Every entry under `directory`: file bytes, link targets, modes."""
    found: dict[str, Any] = {}
    for dirpath, dirnames, filenames in os.walk(directory):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            relative = str(path.relative_to(directory))
            if path.is_symlink():
                found[relative] = ("link", os.readlink(path))
            elif path.is_file():
                found[relative] = ("file", path.read_bytes(), stat.S_IMODE(path.stat().st_mode))
            else:
                found[relative] = ("dir", stat.S_IMODE(path.stat().st_mode))
    return found


def seqs(settings: Settings, username: str) -> list[int]:
    return sorted(
        int(p.name) for p in (settings.revisions_dir / username).iterdir() if p.name.isdigit()
    )


# --- layout, modes, format, revision stamp -----------------------------------------------


@pytest.fixture(params=[0o000, 0o077], ids=["umask-000", "umask-077"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def test_dirs_0700_files_0600_owned_by_root(
    store: ConfigStore, settings: Settings, umask: int
) -> None:
    config = create(store, "joko")
    with_notes(store, config, "second revision")
    dirs = [settings.users_dir, settings.revisions_dir, settings.revisions_dir / "joko"]
    dirs += [settings.revisions_dir / "joko" / f"{seq:08d}" for seq in (1, 2)]
    assert current_dir(settings, "joko") == dirs[-1]
    for directory in dirs:
        info = directory.stat()
        assert (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) == (0o700, 0, 0), directory
    for directory in dirs[-2:]:
        for kind in SIX:
            info = (directory / f"{kind}.json").stat()
            assert (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) == (0o600, 0, 0)
    assert os.readlink(settings.users_dir / "joko") == ".revisions/joko/00000002"


def test_six_files_pretty_printed_utf8_with_schema_version(
    store: ConfigStore, settings: Settings, joko: UserConfig
) -> None:
    with_notes(store, joko, "café ✓ — notes")
    directory = current_dir(settings, "joko")
    assert sorted(os.listdir(directory)) == sorted(f"{kind}.json" for kind in SIX)
    for kind in SIX:
        raw = (directory / f"{kind}.json").read_bytes()
        data = json.loads(raw.decode("utf-8"))
        assert data["schema_version"] == 1
        assert raw == (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    assert "café ✓ — notes".encode() in (directory / "meta.json").read_bytes()


def test_account_json_holds_the_spec_fields(settings: Settings, joko: UserConfig) -> None:
    account = load_six(current_dir(settings, "joko"))["account"]
    assert sorted(account) == sorted(
        [
            "schema_version",
            "username",
            "uid",
            "gid",
            "primary_domain",
            "home_dir",
            "shell",
            "status",
        ]
        + ["created_at", "updated_at", "package", "contact_email", "owner", "last_login_ip"]
    )
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", account["updated_at"]
    )


def test_revision_stamp_is_the_spec_formula(
    store: ConfigStore, settings: Settings, joko: UserConfig
) -> None:
    # Non-ASCII text inside the five files makes ensure_ascii=False matter.
    jobs = [CronJob(id="backup", schedule="0 3 * * *", command="echo 'sauvegarde terminée ✓'")]
    result = update(
        store, joko, services=joko.services.model_copy(update={"cron": Cron(jobs=jobs)})
    )
    documents = load_six(current_dir(settings, "joko"))
    assert documents["meta"]["last_applied_revision"] == spec_revision(documents)
    assert result.config.revision == spec_revision(documents)
    assert store.read("joko").revision == spec_revision(documents)


# --- compare-and-swap, no-op writes, history ---------------------------------------------


def test_stale_expected_revision_is_refused_and_changes_nothing(
    store: ConfigStore, settings: Settings, joko: UserConfig
) -> None:
    first = update(store, joko, limits=joko.limits.model_copy(update={"max_databases": 3}))
    before = snapshot(settings.etc_dir)
    with pytest.raises(StaleRevision) as caught:
        update(store, joko, limits=joko.limits.model_copy(update={"max_databases": 9}))
    assert caught.value.field == "revision"
    assert caught.value.http_status == 412
    assert snapshot(settings.etc_dir) == before
    assert store.read("joko").limits.max_databases == 3
    assert store.read("joko").revision == first.config.revision


def test_notes_only_updates_in_one_second_still_conflict(
    store: ConfigStore, joko: UserConfig
) -> None:
    # updated_at has one-second resolution; a notes-only change must still move the revision,
    # or the second writer below would silently overwrite the first.
    first = with_notes(store, joko, "from the first writer")
    assert first.config.revision != joko.revision
    with pytest.raises(StaleRevision):
        with_notes(store, joko, "from the second writer")
    assert store.read("joko").meta.notes == "from the first writer"


def test_unchanged_content_makes_no_revision(
    store: ConfigStore, settings: Settings, joko: UserConfig
) -> None:
    before = snapshot(settings.etc_dir)
    result = store.write(store.read("joko"), expected_revision=joko.revision, actor="t", action="t")
    assert result.changed is False
    assert result.config == store.read("joko")
    assert snapshot(settings.etc_dir) == before
    assert seqs(settings, "joko") == [1]


@pytest.mark.parametrize(("limit", "writes", "kept"), [(None, 25, 20), (5, 12, 5)])
def test_history_is_bounded(root: Path, limit: int | None, writes: int, kept: int) -> None:
    settings = load_settings(root) if limit is None else load_settings(root, history_limit=limit)
    assert settings.history_limit == kept  # 20 unless configured
    store = ConfigStore(settings)
    config = create(store, "joko")
    for n in range(2, writes + 1):
        config = with_notes(store, config, f"write {n}").config
    assert seqs(settings, "joko") == list(range(writes - kept + 1, writes + 1))
    history = store.history("joko")
    assert [h.seq for h in history] == list(range(writes - kept + 1, writes + 1))
    assert [h.current for h in history] == [False] * (kept - 1) + [True]
    assert history[-1].revision == config.revision
    assert {h.actor for h in history} == {"test"}
    assert check_account(settings, "joko") == []


def test_diff_between_two_revisions(store: ConfigStore, joko: UserConfig) -> None:
    account = joko.account.model_copy(update={"contact_email": "new@example.org"})
    limits = joko.limits.model_copy(update={"max_databases": 7})
    result = update(store, joko, account=account, limits=limits)
    changes = store.diff("joko", 1, 2)
    assert [c["path"] for c in changes] == [
        "account.contact_email",
        "account.updated_at",
        "limits.max_databases",
    ]
    assert changes[0] == {
        "path": "account.contact_email",
        "old": "joko@example.com",
        "new": "new@example.org",
    }
    assert changes[2] == {"path": "limits.max_databases", "old": 1, "new": 7}
    assert changes[1]["new"] == result.config.documents()["account"]["updated_at"]
    assert store.diff("joko", 2, 2) == []
    with pytest.raises(NotFound):
        store.diff("joko", 1, 9)


def test_rollback_makes_an_old_revision_current_as_a_new_one(
    store: ConfigStore, settings: Settings, joko: UserConfig
) -> None:
    second = update(store, joko, limits=joko.limits.model_copy(update={"max_databases": 7})).config
    third = with_notes(store, second, "third").config
    with pytest.raises(StaleRevision):
        store.rollback("joko", 1, expected_revision=joko.revision, actor="admin")
    result = store.rollback("joko", 1, expected_revision=third.revision, actor="admin")
    assert result.changed is True
    assert seqs(settings, "joko") == [1, 2, 3, 4]
    now = store.read("joko")
    assert now.limits == joko.limits
    assert now.meta.notes == ""
    assert [c["path"] for c in store.diff("joko", 1, 4)] == ["account.updated_at"]
    assert store.history("joko")[-1].action == "rollback:1"
    assert store.history("joko")[-1].actor == "admin"
    assert check_account(settings, "joko") == []


# --- hand edits ------------------------------------------------------------------------


def hand_edit(settings: Settings, kind: str, change: Any) -> Path:
    path = current_dir(settings, "joko") / f"{kind}.json"
    data = json.loads(path.read_text("utf-8"))
    change(data)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


def test_valid_hand_edit_is_detected_then_adopted(
    store: ConfigStore, settings: Settings, joko: UserConfig
) -> None:
    assert store.inspect("joko").consistent
    hand_edit(settings, "limits", lambda d: d.update(max_databases=42))
    inspection = store.inspect("joko")
    assert (inspection.hand_edited, inspection.error, inspection.consistent) == (True, None, False)
    assert inspection.stored_revision == joko.revision
    with pytest.raises(Conflict, match="edited by hand"):
        with_notes(store, store.read("joko"), "would bury the hand edit")
    result = store.adopt("joko", actor="admin")
    assert result.changed is True
    assert store.inspect("joko").consistent
    assert store.read("joko").limits.max_databases == 42
    assert seqs(settings, "joko") == [1, 2]
    assert store.history("joko")[-1].action == "reconcile:adopt"
    assert check_account(settings, "joko") == []


def _set(key: str, value: Any) -> Any:
    return lambda data: data.update({key: value})


INVALID_EDITS = [
    ("limits", _set("disk_quota_mb", -1), "limits.disk_quota_mb"),
    ("limits", _set("bogus", 1), "limits.bogus"),
    ("limits", _set("max_databases", "many"), "limits.max_databases"),
    ("limits", _set("schema_version", 2), "limits.schema_version"),
    ("account", _set("status", "deleted"), "account.status"),
    ("account", _set("shell", "/tmp/evil"), "account.shell"),
    ("account", _set("uid", 0), "account.uid"),
    ("account", _set("updated_at", "2024-01-01T00:00:00"), "account.updated_at"),
    ("domains", _set("primary", "other.example.com"), "domains.primary"),
    ("ssh", _set("mode", "root"), "ssh.mode"),
    ("services", _set("web_server", "apache"), "services.web_server"),
    ("meta", _set("last_applied_revision", "md5:0"), "meta.last_applied_revision"),
]


@pytest.mark.parametrize(
    ("kind", "change", "field"), INVALID_EDITS, ids=[row[2] for row in INVALID_EDITS]
)
def test_invalid_hand_edit_is_refused_naming_the_field(
    store: ConfigStore, settings: Settings, joko: UserConfig, kind: str, change: Any, field: str
) -> None:
    hand_edit(settings, kind, change)
    before = snapshot(settings.etc_dir)
    with pytest.raises(ValidationFailed) as caught:
        store.adopt("joko", actor="admin")
    assert caught.value.field == field
    assert caught.value.message
    error = store.inspect("joko").error
    assert error is not None
    assert error.field == field
    assert snapshot(settings.etc_dir) == before  # nothing applied, the edit left for the admin


@pytest.mark.parametrize(
    ("damage", "field"),
    [
        (lambda p: p.write_text('{"schema_version": 1, "max_', encoding="utf-8"), "limits.json"),
        (lambda p: p.write_bytes(b'{"x": "\xff"}'), "limits.json"),
        (lambda p: p.write_text("[]", encoding="utf-8"), "limits.json"),
        (lambda p: p.unlink(), "limits.json"),
    ],
    ids=["torn", "not-utf8", "not-an-object", "missing"],
)
def test_unreadable_file_is_reported_not_adopted(
    store: ConfigStore, settings: Settings, joko: UserConfig, damage: Any, field: str
) -> None:
    damage(current_dir(settings, "joko") / "limits.json")
    before = snapshot(settings.etc_dir)
    with pytest.raises(ValidationFailed) as caught:
        store.adopt("joko", actor="admin")
    assert caught.value.field == field
    inspection = store.inspect("joko")  # reports; does not raise
    assert inspection.error is not None
    assert inspection.error.field == field
    assert inspection.consistent is False
    assert snapshot(settings.etc_dir) == before


@pytest.mark.parametrize("kind", SIX)
def test_a_write_over_a_missing_file_is_refused_as_a_hand_edit(
    store: ConfigStore, settings: Settings, joko: UserConfig, kind: str
) -> None:
    (current_dir(settings, "joko") / f"{kind}.json").unlink()
    before = snapshot(settings.etc_dir)
    with pytest.raises(Conflict, match="edited by hand"):
        with_notes(store, joko, "would hide the loss")
    assert snapshot(settings.etc_dir) == before


@pytest.mark.parametrize(
    "make",
    [
        lambda link: os.symlink("/etc", link),
        lambda link: os.symlink(".revisions/other/00000001", link),
        lambda link: os.symlink(".revisions/joko/../../../../etc", link),
        lambda link: link.mkdir(),
        lambda link: link.write_text("{}"),
    ],
    ids=["outside", "other-account", "dotdot", "plain-dir", "plain-file"],
)
def test_anything_but_a_revision_link_is_refused_as_corrupt(
    store: ConfigStore, settings: Settings, make: Any
) -> None:
    make(settings.users_dir / "joko")
    with pytest.raises(ConfigCorrupt) as caught:
        store.read("joko")
    assert caught.value.field == "joko"
    with pytest.raises(ConfigCorrupt):
        create(store, "joko")


# --- leftovers of interrupted writes -------------------------------------------------------


def test_leftovers_of_interrupted_writes_are_cleaned_by_the_next_write(
    store: ConfigStore, settings: Settings, joko: UserConfig
) -> None:
    revisions = settings.revisions_dir / "joko"
    # A crash while filling a temp dir, one after renaming it but before the swap, and
    # one between creating the temp symlink and renaming it over users/joko.
    torn = revisions / ".tmp-00000002-dead"
    torn.mkdir(mode=0o700)
    (torn / "account.json").write_text('{"schema_ver', encoding="utf-8")
    unswapped = revisions / "00000002"
    unswapped.mkdir(mode=0o700)
    (unswapped / "limits.json").write_text("{}", encoding="utf-8")
    os.symlink(".revisions/joko/00000002", settings.users_dir / ".joko.lnk")
    pruned = revisions / ".tmp-pruned-00000000"
    pruned.mkdir(mode=0o700)

    assert store.read("joko") == joko  # readers only ever see the current revision
    result = with_notes(store, joko, "next write")
    assert result.changed is True
    assert sorted(p.name for p in revisions.iterdir()) == ["00000001", "00000002"]
    assert sorted(p.name for p in settings.users_dir.iterdir()) == [".revisions", "joko"]
    assert store.read("joko").meta.notes == "next write"
    assert check_account(settings, "joko") == []


def test_orphan_revisions_of_a_cut_short_create_are_archived(
    store: ConfigStore, settings: Settings
) -> None:
    orphan = settings.revisions_dir / "newbie" / "00000001"
    orphan.mkdir(parents=True, mode=0o700)
    (orphan / "account.json").write_text("{}", encoding="utf-8")
    assert store.exists("newbie") is False
    assert store.list_usernames() == []
    create(store, "newbie")
    assert seqs(settings, "newbie") == [1]
    archived = [p.name for p in settings.archive_dir.iterdir()]
    assert len(archived) == 1 and archived[0].startswith("newbie-orphan-")
    assert (settings.archive_dir / archived[0] / "00000001/account.json").read_text() == "{}"
    assert check_account(settings, "newbie") == []


def test_create_refuses_an_existing_account_and_update_a_missing_one(
    store: ConfigStore, joko: UserConfig
) -> None:
    with pytest.raises(Conflict):
        create(store, "joko")
    ghost = joko.with_(account=joko.account.model_copy(update={"username": "ghost"}))
    with pytest.raises(NotFound):
        store.write(ghost, expected_revision=None, actor="t", action="t")
    with pytest.raises(NotFound):
        store.read("ghost")


def test_archive_keeps_every_revision_and_restore_undoes_it(
    store: ConfigStore, settings: Settings, joko: UserConfig
) -> None:
    with_notes(store, joko, "two")
    archived = store.archive("joko")
    assert store.list_usernames() == []
    assert sorted(p.name for p in archived.iterdir()) == ["00000001", "00000002"]
    store.restore_archive("joko", archived)
    assert store.read("joko").meta.notes == "two"
    assert check_account(settings, "joko") == []


# --- domain claims ---------------------------------------------------------------------


@pytest.fixture
def claims(settings: Settings, store: ConfigStore) -> DomainClaims:
    return DomainClaims(settings, store)


def test_domain_claims_conflict_across_accounts_case_insensitively(
    store: ConfigStore, claims: DomainClaims, settings: Settings
) -> None:
    create(store, "alice", 20001, "Shop.Example.COM")
    create(store, "bob", 20002)
    assert claims.claim("alice", ["SHOP.example.com"]) == ["shop.example.com"]
    assert os.readlink(settings.domain_claims_dir / "shop.example.com") == "alice"
    assert claims.owner("shop.EXAMPLE.com") == "alice"
    assert claims.claim("alice", ["shop.example.com"]) == []  # already hers: nothing new
    with pytest.raises(Conflict) as caught:
        claims.claim("bob", ["bob.example.com", "Shop.Example.Com"])
    assert caught.value.field == "domain"
    assert claims.owner("bob.example.com") is None  # all or nothing
    assert claims.owner("shop.example.com") == "alice"


def test_domain_claim_release_only_drops_own_claims(
    store: ConfigStore, claims: DomainClaims
) -> None:
    create(store, "alice", 20001, "shop.example.com")
    claims.claim("alice", ["shop.example.com"])
    claims.release("bob", ["shop.example.com"])
    assert claims.owner("shop.example.com") == "alice"
    claims.release("alice", ["SHOP.example.com"])
    assert claims.owner("shop.example.com") is None


def test_stale_domain_claims_are_taken_over(
    store: ConfigStore, claims: DomainClaims, settings: Settings
) -> None:
    create(store, "alice", 20001, "alice.example.com")
    create(store, "bob", 20002)
    os.symlink("ghost", settings.domain_claims_dir / "left.example.com")  # owner is gone
    os.symlink("alice", settings.domain_claims_dir / "old.example.com")  # owner dropped it
    assert claims.claim("bob", ["left.example.com", "old.example.com"]) == [
        "left.example.com",
        "old.example.com",
    ]
    assert claims.owner("left.example.com") == "bob"
    assert claims.owner("old.example.com") == "bob"


def test_domain_claims_are_rebuilt_from_the_accounts(
    store: ConfigStore, claims: DomainClaims, settings: Settings
) -> None:
    create(store, "alice", 20001, "alice.example.com")
    bob = create(store, "bob", 20002, "bob.example.com")
    update(
        store, bob, domains=bob.domains.model_copy(update={"alias_domains": ["bob.example.net"]})
    )
    os.symlink("ghost", settings.domain_claims_dir / "stale.example.com")
    os.symlink("bob", settings.domain_claims_dir / "alice.example.com")  # wrong owner
    wanted = claims.rebuild()
    assert wanted == {  # a primary domain's www. alias is claimed with it; an alias has none
        "alice.example.com": "alice",
        "www.alice.example.com": "alice",
        "bob.example.com": "bob",
        "www.bob.example.com": "bob",
        "bob.example.net": "bob",
    }
    on_disk = {p.name: os.readlink(p) for p in settings.domain_claims_dir.iterdir()}
    assert on_disk == wanted


# --- settings: every path under ROOT, env and TOML -----------------------------------------

PATH_PROPERTIES = [
    "etc_dir",
    "users_dir",
    "revisions_dir",
    "archive_dir",
    "packages_dir",
    "domain_claims_dir",
    "skel_dir",
    "locks_dir",
    "state_dir",
    "home_base",
    "socket_path",
    "secret_key_path",
]


def test_every_path_is_under_the_root(tmp_path: Path) -> None:
    root = tmp_path / "sandbox"
    settings = load_settings(root)
    assert settings.root == root
    for name in PATH_PROPERTIES:
        assert root in getattr(settings, name).parents, name
    assert settings.users_dir == root / "etc/jopanel/users"
    assert settings.locks_dir == root / "run/jopanel/locks"
    assert settings.socket_path == root / "run/jopanel/agent.sock"
    assert settings.home_of("joko") == root / "home/joko"
    assert settings.system_home("joko") == "/home/joko"
    assert settings.db_url == f"sqlite:///{root}/var/lib/jopanel/jopanel.db"
    assert settings.prefix_args() == ["--prefix", str(root)]
    assert settings.is_sandbox is True
    assert load_settings("/").prefix_args() == []


@pytest.mark.parametrize(
    "escape",
    ["..", "../etc/passwd", "etc/../../x", "/../../etc/shadow", "home/joko/../../../../etc"],
)
def test_settings_path_refuses_to_leave_the_root(tmp_path: Path, escape: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        load_settings(tmp_path / "sandbox").path(escape)
    assert caught.value.field == "path"


@pytest.mark.parametrize(
    ("relative", "expected"),
    [("/etc/passwd", "etc/passwd"), ("etc/../home/joko", "home/joko"), ("", ".")],
)
def test_settings_path_stays_under_the_root(tmp_path: Path, relative: str, expected: str) -> None:
    root = tmp_path / "sandbox"
    assert load_settings(root).path(relative) == root / expected


def write_toml(root: Path, text: str) -> None:
    (root / "etc/jopanel").mkdir(parents=True, exist_ok=True)
    (root / "etc/jopanel/jopanel.toml").write_text(text, encoding="utf-8")


def test_toml_under_the_root_is_read(tmp_path: Path) -> None:
    root = tmp_path / "sandbox"
    write_toml(root, 'http_port = 8081\nlisten = "0.0.0.0:9000"\nhistory_limit = 7\n')
    settings = load_settings(root)
    assert (settings.http_port, settings.listen, settings.history_limit) == (
        8081,
        "0.0.0.0:9000",
        7,
    )
    assert settings.https_port == 443


def test_environment_beats_toml_and_arguments_beat_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "sandbox"
    write_toml(root, 'http_port = 8081\nlisten = "0.0.0.0:9000"\n')
    monkeypatch.setenv("JOPANEL_HTTP_PORT", "8082")
    settings = load_settings(root)
    assert (settings.http_port, settings.listen) == (8082, "0.0.0.0:9000")
    assert load_settings(root, http_port=8083).http_port == 8083


def test_jopanel_root_environment_chooses_the_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "sandbox"
    write_toml(root, "history_limit = 9\n")
    monkeypatch.setenv("JOPANEL_ROOT", str(root))
    settings = load_settings()
    assert (settings.root, settings.history_limit) == (root, 9)
    monkeypatch.chdir(tmp_path)
    assert load_settings("sandbox").root == root  # a relative root is made absolute


@pytest.mark.parametrize("text", ["bogus = 1\n", "history_limit = 1\n", "http_port = 70000\n"])
def test_bad_toml_values_are_refused_at_load_time(tmp_path: Path, text: str) -> None:
    write_toml(tmp_path / "sandbox", text)
    with pytest.raises(pydantic.ValidationError):
        load_settings(tmp_path / "sandbox")


# --- jopanel init ------------------------------------------------------------------------


def test_init_on_an_empty_dir_builds_a_sandbox_and_is_idempotent(tmp_path: Path) -> None:
    target = tmp_path / "empty"
    target.mkdir()
    first = json.loads(cli(target, "--json", "init").stdout)
    assert first["root"] == str(target)
    assert first["done"][0] == f"built a sandbox in {target}"
    settings = load_settings(target)
    passwd = (target / "etc/passwd").read_text(encoding="utf-8").splitlines()
    assert passwd[0].startswith("root:x:0:0:")
    assert [line for line in passwd if 1000 <= int(line.split(":")[2]) < 65534] == []
    for directory in (settings.users_dir, settings.revisions_dir, settings.locks_dir):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert json.loads((settings.packages_dir / "default.json").read_text())["name"] == "default"
    assert stat.S_IMODE(settings.secret_key_path.stat().st_mode) == 0o600
    before = snapshot(target)

    second = json.loads(cli(target, "--json", "init").stdout)
    assert second == {"root": str(target), "done": []}
    assert snapshot(target) == before
    store = ConfigStore(settings)
    create(store, "joko")
    assert check_account(settings, "joko") == []


def test_a_claim_of_an_account_mid_change_is_not_taken_over(
    store: ConfigStore, claims: DomainClaims, settings: Settings, root: Path
) -> None:
    # Flows claim a domain first and write it into domains.json next, under the account's
    # lock. In between, the claim must not look like the leftover of a crash.
    create(store, "alice", 20001)
    create(store, "bob", 20002)
    holder = subprocess.Popen(
        [sys.executable, "-m", "tests.store_writer", "hold", f"--root={root}", "--user=alice"],
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "locked\n"  # alice's create/update flow is running
        assert claims.claim("alice", ["new.example.com"]) == ["new.example.com"]
        with pytest.raises(Conflict):
            claims.claim("bob", ["new.example.com"])
        assert claims.rebuild()["alice.example.com"] == "alice"
        assert claims.owner("new.example.com") == "alice"  # rebuild kept the live claim
    finally:
        holder.kill()
        holder.communicate(timeout=10)
    # The flow died before writing domains.json: now the claim is a leftover.
    assert claims.claim("bob", ["new.example.com"]) == ["new.example.com"]
    assert claims.owner("new.example.com") == "bob"


def test_an_unreadable_account_keeps_its_domains(
    store: ConfigStore, claims: DomainClaims, settings: Settings
) -> None:
    create(store, "alice", 20001, "shop.example.com")
    create(store, "bob", 20002)
    claims.claim("alice", ["shop.example.com"])
    (current_dir(settings, "alice") / "limits.json").write_text("{", encoding="utf-8")
    with pytest.raises(Conflict):
        claims.claim("bob", ["shop.example.com"])
    assert claims.owner("shop.example.com") == "alice"


# --- packages ----------------------------------------------------------------------------


def test_packages_are_files_written_once_and_atomically(settings: Settings) -> None:
    packages = PackageStore(settings)
    gold = Package(name="gold", description="Gold", max_databases=10)
    assert packages.save(gold, create=True) is True
    assert packages.save(gold) is False  # unchanged: nothing written
    with pytest.raises(Conflict):
        packages.save(gold, create=True)
    with pytest.raises(NotFound):
        packages.save(Package(name="silver"), update=True)
    path = settings.packages_dir / "gold.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text("utf-8"))["max_databases"] == 10
    assert packages.get("gold") == gold
    assert [p.name for p in packages.list()] == ["default", "gold"]
    packages.delete("gold", in_use=False)
    assert packages.exists("gold") is False
    with pytest.raises(NotFound):
        packages.get("gold")


def test_packages_in_use_or_default_are_not_deleted(settings: Settings) -> None:
    packages = PackageStore(settings)
    packages.save(Package(name="gold"))
    with pytest.raises(Conflict):
        packages.delete("gold", in_use=True)
    with pytest.raises(Conflict):
        packages.delete(DEFAULT_PACKAGE, in_use=False)
    assert packages.exists("gold") and packages.exists(DEFAULT_PACKAGE)


def test_a_hand_broken_package_names_its_file(settings: Settings) -> None:
    (settings.packages_dir / "gold.json").write_text('{"name": "gold", "max_', encoding="utf-8")
    with pytest.raises(ValidationFailed) as caught:
        PackageStore(settings).get("gold")
    assert caught.value.field == "gold.json"
    (settings.packages_dir / "gold.json").write_text('{"name": "gold", "x": 1}', encoding="utf-8")
    with pytest.raises(ValidationFailed) as caught:
        PackageStore(settings).get("gold")
    assert caught.value.field == "package.x"
