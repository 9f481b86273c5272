"""One identity per account, whatever path changes it (the real CLI and the real API over
HTTP, one agent, one database): the account's password is its shadow entry, sessions
are bound to the account's identity, and every change is audited with its actor."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import httpx
import pytest

from jopanel.agent.client import SocketAgent
from jopanel.settings import Settings, load_settings
from jopanel.system.sandbox import init_root
from tests.api.harness import Api, make_app, running_agent, serving
from tests.conftest import JOPANEL, cli

PASSWORD = "first password"
NEW_PASSWORD = "second password"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    root = tmp_path_factory.mktemp("identity") / "root"
    settings = load_settings(root)
    init_root(settings)
    with running_agent(root, settings):
        app = make_app(settings)
        with serving(app) as url:
            api = Api(url=url, app=app, settings=settings)
            app.state.ctx.staff.create("boss", PASSWORD, "admin")
            app.state.ctx.staff.create("resa", PASSWORD, "reseller")
            api.tokens["admin"] = api.login("boss", PASSWORD)
            yield api


def login(api: Api, name: str, password: str) -> httpx.Response:
    return api.request("POST", "/api/auth/login", json={"username": name, "password": password})


def me(api: Api, token: str) -> int:
    with api.client(token) as client:
        return client.get("/api/auth/me").status_code


def create_cli(root: Path, name: str, password: str = PASSWORD, **env: str) -> None:
    run_cli(
        root, "user", "create", name, "--domain", f"{name}.example.com",
        "--email", f"{name}@example.com", "--password-stdin", input=password + "\n", **env,
    )  # fmt: skip


def run_cli(
    root: Path, *args: str, input: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    return cli(root, *args, input=input, env=env)


def uid_of(settings: Settings, name: str) -> int:
    for line in settings.path("etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == name:
            return int(fields[2])
    raise AssertionError(f"{name} not in passwd")


def test_cli_created_account_logs_in_to_the_panel_at_once(world: Api) -> None:
    create_cli(world.settings.root, "clione")
    response = login(world, "clione", PASSWORD)
    assert response.status_code == 200, response.text
    assert response.json()["role"] == "user"
    assert login(world, "clione", "not the password").status_code == 401
    account = world.request("GET", "/api/user/account", as_=None, headers={
        "Authorization": f"Bearer {response.json()['access_token']}"}).json()  # fmt: skip
    assert account["account"]["last_login_ip"] == "127.0.0.1"


def test_cli_passwd_ends_sessions_and_swaps_the_password(world: Api) -> None:
    create_cli(world.settings.root, "clitwo")
    token = login(world, "clitwo", PASSWORD).json()["access_token"]
    assert me(world, token) == 200
    run_cli(world.settings.root, "user", "passwd", "clitwo", "--password-stdin",
            input=NEW_PASSWORD + "\n")  # fmt: skip
    assert me(world, token) == 401
    assert login(world, "clitwo", PASSWORD).status_code == 401
    assert login(world, "clitwo", NEW_PASSWORD).status_code == 200


def test_cli_suspend_ends_the_session_at_once(world: Api) -> None:
    create_cli(world.settings.root, "clithree")
    pair = login(world, "clithree", PASSWORD).json()
    run_cli(world.settings.root, "user", "suspend", "clithree")
    assert me(world, pair["access_token"]) == 401
    refreshed = world.request(
        "POST", "/api/auth/refresh", json={"refresh_token": pair["refresh_token"]}
    )
    assert refreshed.status_code == 401
    assert login(world, "clithree", PASSWORD).status_code == 403  # right password, suspended
    run_cli(world.settings.root, "user", "unsuspend", "clithree")
    assert login(world, "clithree", PASSWORD).status_code == 200


def test_suspension_by_hand_edit_and_reconcile_also_ends_sessions(world: Api) -> None:
    """A path that never touches the database: the session's identity check sees it."""
    create_cli(world.settings.root, "clifour")
    token = login(world, "clifour", PASSWORD).json()["access_token"]
    agent = SocketAgent(world.settings)
    try:
        agent.execute("suspend_user", {"username": "clifour"}, actor="someone")
    finally:
        agent.close()
    assert me(world, token) == 401


def test_delete_and_recreate_gets_nothing_of_the_old_account(world: Api) -> None:
    root = world.settings.root
    create_cli(root, "clifive")
    old_uid = uid_of(world.settings, "clifive")
    pair = login(world, "clifive", PASSWORD).json()
    run_cli(root, "user", "delete", "clifive")
    create_cli(root, "clifive", NEW_PASSWORD)
    assert uid_of(world.settings, "clifive") > old_uid  # uids are never reused
    assert login(world, "clifive", PASSWORD).status_code == 401
    assert me(world, pair["access_token"]) == 401
    refreshed = world.request(
        "POST", "/api/auth/refresh", json={"refresh_token": pair["refresh_token"]}
    )
    assert refreshed.status_code == 401
    assert login(world, "clifive", NEW_PASSWORD).status_code == 200


def test_a_recreated_name_does_not_revive_sessions_bound_to_the_old_uid(world: Api) -> None:
    """Delete and re-create behind the database's back (agent ops only): the old
    session names the old uid, the index (rebuilt from disk) the new one."""
    root = world.settings.root
    create_cli(root, "clisix")
    token = login(world, "clisix", PASSWORD).json()["access_token"]
    agent = SocketAgent(world.settings)
    try:
        agent.execute("delete_user", {"username": "clisix"})
        agent.execute(
            "create_user",
            {"username": "clisix", "password": PASSWORD, "contact_email": "x@example.com",
             "primary_domain": "clisix.example.com"},
        )  # fmt: skip
    finally:
        agent.close()
    assert me(world, token) == 401


def test_delete_ends_processes_crontab_and_files_outside_the_home(world: Api) -> None:
    settings = world.settings
    create_cli(settings.root, "cliseven")
    uid = uid_of(settings, "cliseven")
    sleeper = subprocess.Popen(
        ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "sleep", "300"]
    )
    leftovers = [settings.path("tmp/cliseven.sock"), settings.path("var/tmp/cache")]
    for path in leftovers:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("left behind")
        os.chown(path, uid, uid)
    theirs = settings.path("tmp/someone-else")
    theirs.write_text("stays")
    crontab = settings.crontab_dir / "cliseven"
    crontab.parent.mkdir(parents=True, exist_ok=True)
    crontab.write_text("* * * * * true\n")
    try:
        run_cli(settings.root, "user", "delete", "cliseven")
        assert sleeper.wait(timeout=10) == -9
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
    assert not any(p.exists() for p in leftovers)
    assert not crontab.exists()
    assert theirs.read_text() == "stays"


def test_the_audit_shows_a_cli_change_with_its_actor(world: Api) -> None:
    create_cli(world.settings.root, "clieight", SUDO_USER="alice")
    rows = world.request(
        "GET", "/api/admin/audit-logs", params={"target": "clieight"}, as_="admin"
    ).json()["items"]
    assert [(r["action"], r["actor"], r["result"]) for r in rows] == [
        ("create_user", "alice", "ok")
    ]


def test_staff_logins_and_accounts_never_share_a_name(world: Api) -> None:
    create_cli(world.settings.root, "clinine")
    refused = subprocess.run(
        [JOPANEL, "--root", str(world.settings.root), "admin", "create", "clinine",
         "--password-stdin"],
        input=PASSWORD + "\n", capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert refused.returncode == 4 and "hosting account" in refused.stderr
    body = {"username": "resa", "password": PASSWORD, "contact_email": "r@example.com",
            "primary_domain": "resa.example.com"}  # fmt: skip
    taken = world.request("POST", "/api/admin/users", json=body, as_="admin")
    assert taken.status_code == 409 and taken.json()["field"] == "username"


def test_a_suspended_reseller_is_locked_out_at_once(world: Api) -> None:
    world.app.state.ctx.staff.create("resb", PASSWORD, "reseller")
    token = login(world, "resb", PASSWORD).json()["access_token"]
    body = {"username": "byresb", "password": PASSWORD, "contact_email": "b@example.com",
            "primary_domain": "byresb.example.com"}  # fmt: skip
    with world.client(token) as client:
        assert client.post("/api/admin/users", json=body).status_code == 201
    run_cli(world.settings.root, "admin", "suspend", "resb")
    assert me(world, token) == 401
    assert login(world, "resb", PASSWORD).status_code == 403
    run_cli(world.settings.root, "admin", "unsuspend", "resb")
    assert login(world, "resb", PASSWORD).status_code == 200


def test_lost_admin_password_is_recovered_as_root(world: Api) -> None:
    world.app.state.ctx.staff.create("lostpw", PASSWORD, "admin")
    token = login(world, "lostpw", PASSWORD).json()["access_token"]
    run_cli(world.settings.root, "admin", "passwd", "lostpw", "--password-stdin",
            input=NEW_PASSWORD + "\n")  # fmt: skip
    assert me(world, token) == 401
    assert login(world, "lostpw", PASSWORD).status_code == 401
    assert login(world, "lostpw", NEW_PASSWORD).status_code == 200
    listed = run_cli(world.settings.root, "--json", "admin", "list").stdout
    assert '"lostpw"' in listed and "password_hash" not in listed


@pytest.mark.parametrize("name", ["RESA ", " resa", "résa", "ｒｅｓａ ", "resa\n"])
def test_login_names_are_canonical_and_strict(world: Api, name: str) -> None:
    assert login(world, name, PASSWORD).status_code == 401


def test_case_variants_share_one_throttle(world: Api) -> None:
    world.app.state.ctx.staff.create("throttled", PASSWORD, "reseller")
    assert login(world, "THROTTLED", PASSWORD).status_code == 200  # canonical: 'throttled'
    variants = ("throttled", "Throttled", "THROTTLED", "tHrottled", "throttleD")
    codes = [login(world, v, "wrong password").status_code for v in variants]
    assert codes == [401] * 5
    assert login(world, "THROTTLED", PASSWORD).status_code == 429


def create_with_v1_hash(world: Api, name: str, rounds: int) -> None:
    """An account whose shadow entry is a V1 (bcrypt) hash, as migrate-v1 leaves it."""
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=rounds)).decode()
    agent = SocketAgent(world.settings)
    try:
        agent.execute(
            "create_user",
            {"username": name, "password_hash": hashed, "contact_email": f"{name}@example.com",
             "primary_domain": f"{name}.example.com"},
        )  # fmt: skip
    finally:
        agent.close()


def test_v1_bcrypt_password_logs_in_and_is_rehashed(world: Api) -> None:
    create_with_v1_hash(world, "fromvone", rounds=10)
    assert login(world, "fromvone", PASSWORD).status_code == 200
    shadow = world.settings.path("etc/shadow").read_text()
    entry = next(line for line in shadow.splitlines() if line.startswith("fromvone:"))
    assert entry.split(":")[1].startswith("$y$")
    assert login(world, "fromvone", PASSWORD).status_code == 200


def test_every_failed_login_costs_the_same(world: Api) -> None:
    """Unknown name, yescrypt account, V1 bcrypt account, staff login: each failure takes
    the floor (0.4 s), so timing tells none of them apart."""
    create_with_v1_hash(world, "timebc", rounds=10)
    create_cli(world.settings.root, "timeyc")
    world.app.state.ctx.staff.create("timestaff", PASSWORD, "reseller")
    medians = {}
    for name in ("nosuchname", "timeyc", "timebc", "timestaff"):
        samples = []
        for attempt in range(4):
            world.app.state.ctx.auth.throttle.success(name)  # stay under the limit
            started = time.perf_counter()
            assert login(world, name, f"wrong {attempt}").status_code == 401
            samples.append(time.perf_counter() - started)
        medians[name] = statistics.median(samples)
    assert min(medians.values()) >= 0.4, medians
    assert max(medians.values()) - min(medians.values()) < 0.15, medians


def test_refused_and_throttled_requests_are_audited(world: Api) -> None:
    body = {"username": "audited", "password": PASSWORD, "contact_email": "a@example.com",
            "primary_domain": "audited.example.com"}  # fmt: skip
    assert world.request("POST", "/api/admin/users", json=body, as_="admin").status_code == 201
    assert world.request("POST", "/api/admin/users", json=body, as_="admin").status_code == 409
    stale = {"If-Match": '"sha256:' + "0" * 64 + '"'}
    change = {"account": {"contact_email": "b@example.com"}}
    assert (
        world.request("PUT", "/api/admin/users/audited", json=change, headers=stale, as_="admin")
    ).status_code == 412
    bad = {**body, "username": "Bad Name"}
    assert world.request("POST", "/api/admin/users", json=bad, as_="admin").status_code == 422
    world.app.state.ctx.staff.create("lockout", PASSWORD, "reseller")
    for attempt in range(6):
        login(world, "lockout", f"wrong {attempt}")
    rows = world.request(
        "GET", "/api/admin/audit-logs", params={"per_page": 50}, as_="admin"
    ).json()["items"]
    seen = {(r["action"], r["result"], r["detail"].split()[0]) for r in rows if r["detail"]}
    assert ("users.create", "failed", "409") in seen
    assert ("users.update", "failed", "412") in seen
    assert ("users.create", "failed", "422") in seen
    assert ("auth.login", "throttled", "429") in seen


def test_dropping_the_database_loses_no_account_login(tmp_path: Path) -> None:
    root = tmp_path / "root"
    settings = load_settings(root)
    init_root(settings)
    for name in ("dropone", "droptwo"):
        create_cli(root, name)
    run_cli(root, "user", "passwd", "droptwo", "--password-stdin", input=NEW_PASSWORD + "\n")
    for path in settings.state_dir.glob("jopanel.db*"):
        path.unlink()
    assert "indexed 2 accounts" in run_cli(root, "reindex").stdout
    run_cli(root, "admin", "create", "boss", "--password-stdin", input=PASSWORD + "\n")
    with running_agent(root, settings):
        app = make_app(settings)
        with serving(app) as url:
            api = Api(url=url, app=app, settings=settings)
            assert login(api, "dropone", PASSWORD).status_code == 200
            assert login(api, "droptwo", NEW_PASSWORD).status_code == 200
            api.tokens["admin"] = api.login("boss", PASSWORD)
            rows = api.request(
                "GET", "/api/admin/audit-logs", params={"actor": "root"}, as_="admin"
            ).json()["items"]
            assert {(r["action"], r["target"]) for r in rows} >= {
                ("create_user", "dropone"),
                ("create_user", "droptwo"),
                ("set_password", "droptwo"),
            }


def test_suspending_a_staff_login_ends_its_login_as_but_not_the_account(world: Api) -> None:
    create_cli(world.settings.root, "impacct")
    world.app.state.ctx.staff.create("impboss", PASSWORD, "admin")
    boss = login(world, "impboss", PASSWORD).json()["access_token"]
    with world.client(boss) as client:
        as_account = client.post("/api/admin/users/impacct/login-as").json()["access_token"]
    own = login(world, "impacct", PASSWORD).json()["access_token"]
    assert me(world, as_account) == 200
    run_cli(world.settings.root, "admin", "suspend", "impboss")
    assert me(world, as_account) == 401
    assert me(world, boss) == 401
    assert me(world, own) == 200


def test_a_shadow_lock_the_config_does_not_know_refuses_the_login(world: Api) -> None:
    create_cli(world.settings.root, "lockdrift")
    subprocess.run(
        ["usermod", "--prefix", str(world.settings.root), "-L", "--", "lockdrift"], check=True
    )
    assert login(world, "lockdrift", PASSWORD).status_code == 401
    shadow = world.settings.path("etc/shadow").read_text()
    assert (
        next(x for x in shadow.splitlines() if x.startswith("lockdrift:")).split(":")[1][0] == "!"
    )
