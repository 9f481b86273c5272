"""MariaDB databases per account, against the real shared server."""

from __future__ import annotations

import json
import secrets
import stat
from pathlib import Path
from typing import Any

import pymysql
import pytest

from jopanel.agent.context import AgentContext
from jopanel.agent.flow import InjectedFault
from jopanel.agent.registry import execute
from jopanel.errors import Conflict, NotFound, ValidationFailed
from jopanel.settings import load_settings
from jopanel.system.mariadb import MariaDB, MariaDBRefused, MariaDBUnavailable

from ..conftest import Op, new_user
from .conftest import drop_prefix, login, root_conn

PASSWORD = "Tr0ub4dor&3-horse"
OTHER_PASSWORD = "C0rrect-Battery-9"


def fresh(names: list[str]) -> str:
    name = "dbt" + secrets.token_hex(4)
    names.append(name)
    return name


def config_of(root: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (root / "etc/jopanel/users" / name / "services.json").read_text()
    )
    return data


def refused(user: str, password: str, database: str | None = None) -> bool:
    try:
        login(user, password, database).close()
    except pymysql.err.OperationalError:
        return True
    return False


def root_query(sql: str, args: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    conn = root_conn()
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args or None)
            return list(cur.fetchall())
    finally:
        conn.close()


def test_create_login_and_isolation(op: Op, root: Path, names: list[str]) -> None:
    a, b = fresh(names), fresh(names)
    new_user(op, a)
    new_user(op, b)
    result = op("db_create", username=a, name="shop", password=PASSWORD)
    assert result.changed and result.data == {"name": f"{a}_shop", "user": f"{a}_shop"}
    op("db_create", username=b, name="blog", password=OTHER_PASSWORD)
    section = config_of(root, a)["databases"]
    assert section["databases"] == [{"name": f"{a}_shop"}]
    assert section["users"][0]["name"] == f"{a}_shop"
    assert section["users"][0]["databases"] == [f"{a}_shop"]
    assert section["users"][0]["password_hash"].startswith("*")

    conn = login(f"{a}_shop", PASSWORD, f"{a}_shop")
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id INT PRIMARY KEY)")
        cur.execute("INSERT INTO t VALUES (1), (2)")
        cur.execute("SHOW DATABASES")
        seen = {r[0] for r in cur.fetchall()}
        assert seen == {"information_schema", f"{a}_shop"}
        with pytest.raises(pymysql.err.OperationalError):
            cur.execute(f"USE `{b}_blog`")
        with pytest.raises(pymysql.err.OperationalError):
            cur.execute(f"SELECT * FROM `{b}_blog`.x")
    conn.close()
    assert refused(f"{a}_shop", "wrong password 123")
    assert refused(f"{a}_shop", PASSWORD, f"{b}_blog")

    listing = op("db_list", username=a).data
    assert [d["name"] for d in listing["databases"]] == [f"{a}_shop"]
    assert listing["databases"][0]["tables"] == 1
    assert listing["databases"][0]["size_bytes"] > 0
    assert listing["users"] == [
        {"name": f"{a}_shop", "databases": [f"{a}_shop"], "exists": True, "locked": False}
    ]
    # idempotent: a reconcile right after finds nothing to do
    assert op("apply_user", username=a).plan == []


def test_password_never_stored_or_journaled(op: Op, root: Path, uname: str) -> None:
    new_user(op, uname)
    op("db_create", username=uname, name="shop", password=PASSWORD)
    op("db_password_set", username=uname, name="shop", password=OTHER_PASSWORD)
    assert refused(f"{uname}_shop", PASSWORD)
    login(f"{uname}_shop", OTHER_PASSWORD).close()
    everything = "".join(p.read_text() for p in (root / "etc/jopanel").rglob("*.json"))
    everything += (root / "var/log/jopanel/audit.jsonl").read_text()
    assert PASSWORD not in everything and OTHER_PASSWORD not in everything


@pytest.mark.parametrize(
    "password",
    [
        "short1A!",
        "alllowercaseletters",
        "ALLUPPERCASE1234",
        "aaaaaaaaaaaaaaaa1A!",
        "My-shop-Pass-1",
    ],
)
def test_weak_passwords_refused(op: Op, root: Path, uname: str, password: str) -> None:
    new_user(op, uname)
    before = config_of(root, uname)
    with pytest.raises(ValidationFailed) as info:
        op("db_create", username=uname, name="shop", password=password)
    assert info.value.field == "password"
    assert config_of(root, uname) == before
    assert password not in str(info.value)


@pytest.mark.parametrize(
    "name",
    [
        "a'b", "a`b", "a%b", "a b", "a\"b", "a;drop", "../x", "a-b", "Shop", "é", "",
        "a\nb", "a\\_b", "*", "x" * 60, "a.b",
    ],
)  # fmt: skip
def test_hostile_names_refused(op: Op, root: Path, uname: str, name: str) -> None:
    new_user(op, uname)
    before = config_of(root, uname)
    with pytest.raises(ValidationFailed):
        op("db_create", username=uname, name=name, password=PASSWORD)
    assert config_of(root, uname) == before
    assert (
        root_query(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE %s",
            (uname + "%",),
        )
        == []
    )


def test_another_accounts_prefix_is_refused(op: Op, names: list[str]) -> None:
    a, b = fresh(names), fresh(names)
    new_user(op, a)
    new_user(op, b)
    op("db_create", username=b, name="blog", password=OTHER_PASSWORD)
    # `<b>_blog` given to account a becomes `<a>_<b>_blog`, never b's database
    op("db_create", username=a, name=f"{b}_blog", password=PASSWORD)
    assert op("db_list", username=a).data["databases"][0]["name"] == f"{a}_{b}_blog"
    with pytest.raises(NotFound):
        op("db_delete", username=a, name="blog")


def test_underscore_is_not_a_wildcard_in_grants(op: Op, uname: str) -> None:
    new_user(op, uname)
    op("db_create", username=uname, name="a_b", password=PASSWORD)
    # a database the `_` of `<u>_a_b` would match if it were a wildcard
    root_query(f"CREATE DATABASE `{uname}_aXb`")
    assert refused(f"{uname}_a_b", PASSWORD, f"{uname}_aXb")
    login(f"{uname}_a_b", PASSWORD, f"{uname}_a_b").close()
    grants = root_query(f"SHOW GRANTS FOR `{uname}_a_b`@`localhost`")
    assert any(f"`{uname}\\_a\\_b`.*" in str(g[0]) for g in grants)


def test_long_names(op: Op, uname: str) -> None:
    new_user(op, uname)
    longest = "x" * (64 - len(uname) - 2)
    op("db_create", username=uname, name=longest, password=PASSWORD)
    with pytest.raises(ValidationFailed, match="64"):
        op("db_create", username=uname, name=longest + "y", password=PASSWORD)


def test_limits(op: Op, uname: str) -> None:
    new_user(op, uname)  # default package: max_databases 1, max_db_users 1
    op("db_create", username=uname, name="one", password=PASSWORD)
    with pytest.raises(Conflict, match="max_databases: 1 in use, limit 1"):
        op("db_create", username=uname, name="two", password=PASSWORD)
    with pytest.raises(Conflict, match="max_db_users: 1 in use, limit 1"):
        op("db_user_create", username=uname, name="reader", password=PASSWORD, databases=["one"])
    op("update_user_config", username=uname, limits={"max_databases": 0, "max_db_users": 3})
    op("db_create", username=uname, name="two", password=PASSWORD)
    op("db_user_create", username=uname, name="reader", password=OTHER_PASSWORD, databases=["one"])
    with pytest.raises(Conflict, match="max_db_users: 3 in use, limit 3"):
        op("db_user_create", username=uname, name="more", password=PASSWORD)
    # the extra user sees `one` only, then `two` once granted, then not `one` once revoked
    assert refused(f"{uname}_reader", OTHER_PASSWORD, f"{uname}_two")
    login(f"{uname}_reader", OTHER_PASSWORD, f"{uname}_one").close()
    op("db_user_grant", username=uname, name="reader", database="two")
    login(f"{uname}_reader", OTHER_PASSWORD, f"{uname}_two").close()
    op("db_user_grant", username=uname, name="reader", database="one", revoke=True)
    assert refused(f"{uname}_reader", OTHER_PASSWORD, f"{uname}_one")
    # deleting `two` drops it and its own user; `reader` keeps only what is left (nothing)
    op("db_delete", username=uname, name=f"{uname}_two")
    assert root_query(f"SHOW DATABASES LIKE '{uname}\\_two'") == []
    assert refused(f"{uname}_two", PASSWORD)
    assert op("db_list", username=uname).data["users"][1]["databases"] == []
    op("db_user_delete", username=uname, name="reader")
    assert refused(f"{uname}_reader", OTHER_PASSWORD)
    assert op("apply_user", username=uname).plan == []


def test_suspend_locks_db_users(op: Op, uname: str) -> None:
    new_user(op, uname)
    op("db_create", username=uname, name="shop", password=PASSWORD)
    op("suspend_user", username=uname)
    with pytest.raises(pymysql.err.OperationalError) as info:
        login(f"{uname}_shop", PASSWORD)
    assert info.value.args[0] == 4151  # ER_ACCOUNT_HAS_BEEN_LOCKED
    assert op("db_list", username=uname).data["users"][0]["locked"] is True
    op("unsuspend_user", username=uname)
    login(f"{uname}_shop", PASSWORD).close()


def test_delete_dumps_then_drops(op: Op, root: Path, uname: str) -> None:
    new_user(op, uname)
    op("db_create", username=uname, name="shop", password=PASSWORD)
    conn = login(f"{uname}_shop", PASSWORD, f"{uname}_shop")
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE orders (id INT PRIMARY KEY, item VARCHAR(20))")
        cur.execute("INSERT INTO orders VALUES (1, 'kopi'), (2, 'teh')")
    conn.close()
    archive = Path(op("delete_user", username=uname).data["archive"])
    dump = archive / "databases" / f"{uname}_shop.sql"
    assert stat.S_IMODE(dump.stat().st_mode) == 0o600
    assert root_query(f"SHOW DATABASES LIKE '{uname}\\_%'") == []
    assert (
        root_query("SELECT User FROM mysql.global_priv WHERE User = %s", (f"{uname}_shop",)) == []
    )
    # the dump restores
    restored = f"{uname}_restored"
    root_query(f"CREATE DATABASE `{restored}`")
    MariaDB(load_settings(root)).restore(restored, dump)
    assert root_query(f"SELECT item FROM `{restored}`.orders ORDER BY id") == [("kopi",), ("teh",)]


def test_reconcile_repairs_hand_drops_and_extra_grants(op: Op, uname: str) -> None:
    new_user(op, uname)
    op("db_create", username=uname, name="shop", password=PASSWORD)
    root_query(f"DROP DATABASE `{uname}_shop`")
    root_query(f"DROP USER `{uname}_shop`@`localhost`")
    plan = op("apply_user", username=uname, dry_run=True).plan
    assert f"database {uname}_shop is missing (recreated empty)" in plan
    assert f"DB user {uname}_shop is missing (recreated)" in plan
    assert op("apply_user", username=uname).changed
    login(f"{uname}_shop", PASSWORD, f"{uname}_shop").close()
    # an extra grant made by hand is revoked, a hand-changed password put back
    root_query(f"GRANT SELECT ON mysql.* TO `{uname}_shop`@`localhost`")
    root_query(f"ALTER USER `{uname}_shop`@`localhost` IDENTIFIED BY 'hand set'")
    plan = op("apply_user", username=uname).plan
    assert any("grants are not exactly" in line for line in plan)
    assert any("password differs" in line for line in plan)
    assert refused(f"{uname}_shop", PASSWORD, "mysql")
    login(f"{uname}_shop", PASSWORD).close()
    assert op("apply_user", username=uname).plan == []


def test_server_refusal_half_way_rolls_back(op: Op, root: Path, uname: str) -> None:
    """JoPanel's login may create databases but not users: the change fails at CREATE USER,
    the config goes back and the database made before it is dropped again."""
    new_user(op, uname)
    admin = f"{uname}_admin"
    secret = secrets.token_hex(16)
    root_query(f"CREATE USER `{admin}`@`localhost` IDENTIFIED BY %s", (secret,))
    root_query(f"GRANT SELECT, CREATE, DROP ON *.* TO `{admin}`@`localhost`")
    cnf = root / "etc/jopanel/mariadb.cnf"
    cnf.write_text(
        f"[client]\nuser = {admin}\npassword = {secret}\nsocket = /run/mysqld/mysqld.sock\n"
    )
    cnf.chmod(0o600)
    before = config_of(root, uname)
    ctx = AgentContext(load_settings(root))
    with pytest.raises(MariaDBRefused, match="MariaDB refused"):
        execute(ctx, "db_create", {"username": uname, "name": "shop", "password": PASSWORD})
    assert config_of(root, uname) == before
    cnf.unlink()
    assert root_query(f"SHOW DATABASES LIKE '{uname}\\_shop'") == []
    assert (
        root_query("SELECT User FROM mysql.global_priv WHERE User = %s", (f"{uname}_shop",)) == []
    )


def test_credentials_file_must_be_private(op: Op, root: Path, uname: str) -> None:
    new_user(op, uname)
    cnf = root / "etc/jopanel/mariadb.cnf"
    cnf.write_text("[client]\nuser = root\n")
    cnf.chmod(0o644)
    with pytest.raises(MariaDBUnavailable, match="must be 0600"):
        op("db_create", username=uname, name="shop", password=PASSWORD)


def test_objects_of_others_are_never_taken_over(op: Op, uname: str) -> None:
    new_user(op, uname)
    root_query(f"CREATE DATABASE `{uname}_legacy`")
    with pytest.raises(Conflict, match="already exists on the server"):
        op("db_create", username=uname, name="legacy", password=PASSWORD)
    op("apply_user", username=uname)  # an untagged database under the prefix stays
    assert root_query(f"SHOW DATABASES LIKE '{uname}\\_legacy'") == [(f"{uname}_legacy",)]
    drop_prefix(uname)


def test_delete_failing_late_restores_databases_from_the_dumps(root: Path, uname: str) -> None:
    """A failure after the databases were dropped puts them back, data and all."""
    ctx = AgentContext(load_settings(root))
    account = {"username": uname, "contact_email": "x@example.com"}
    execute(ctx, "create_user", {**account, "primary_domain": f"{uname}.example.com"})
    execute(ctx, "db_create", {"username": uname, "name": "shop", "password": PASSWORD})
    conn = login(f"{uname}_shop", PASSWORD, f"{uname}_shop")
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE t (v VARCHAR(10))")
        cur.execute("INSERT INTO t VALUES ('kept')")
    conn.close()
    faulty = AgentContext(load_settings(root, fault_point="delete_user:remove_home"))
    with pytest.raises(InjectedFault):
        execute(faulty, "delete_user", {"username": uname})
    assert (root / "etc/jopanel/users" / uname / "services.json").is_file()
    assert root_query(f"SELECT v FROM `{uname}_shop`.t") == [("kept",)]
    login(f"{uname}_shop", PASSWORD, f"{uname}_shop").close()
    assert execute(ctx, "apply_user", {"username": uname}).plan == []


def _list_sibling_database(root: Path, name: str, sibling: str) -> bytes:
    """services.json of `name` edited (or restored) to list `<sibling>_blog`, which starts
    with `name` but is another account's namespace (`joko2_blog` under `joko`)."""
    path = root / "etc/jopanel/users" / name / "services.json"
    data = json.loads(path.read_text())
    data["databases"] = {
        "databases": [{"name": f"{sibling}_blog"}],
        "users": [
            {
                "name": f"{sibling}_blog",
                "password_hash": "*" + "A" * 40,
                "databases": [f"{sibling}_blog"],
            }
        ],
    }
    path.write_text(json.dumps(data, indent=2))
    return path.read_bytes()


def test_a_sibling_accounts_prefix_in_services_json_is_refused(
    op: Op, root: Path, ctx: AgentContext, names: list[str]
) -> None:
    joko = fresh(names)
    sibling = f"{joko}2"  # another possible account: its names start with joko's too
    names.append(sibling)
    new_user(op, joko)
    revision = ctx.store.read_documents(joko)[0]
    edited = _list_sibling_database(root, joko, sibling)
    message = f"must be {joko}_ followed by lowercase letters, digits or _ (got '{sibling}_blog')"
    # Reconcile reports it for the account (and goes on with the others) ...
    for payload in ({"username": joko}, {}):
        reports = {r["username"]: r for r in op("reconcile", **payload).data}
        assert reports[joko]["error"] == f"services.databases: {message}"
    # ... apply_user refuses it; neither adopts it as a revision nor rewrites the file.
    with pytest.raises(ValidationFailed) as caught:
        op("apply_user", username=joko)
    assert str(caught.value) == f"config: services.databases: {message}"
    assert ctx.store.read_documents(joko)[0] == revision
    assert (root / "etc/jopanel/users" / joko / "services.json").read_bytes() == edited
    # A re-import over the restored file is refused the same way.
    with pytest.raises(ValidationFailed, match=f"got '{sibling}_blog'"):
        op("import_user", username=joko, origin="v1:test", contact_email=f"{joko}@example.com",
           primary_domain=f"{joko}.example.com")  # fmt: skip
    assert ctx.store.read_documents(joko)[0] == revision
    # Nothing was made on the server under the sibling's prefix.
    assert root_query("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s",
                      (f"{sibling}_blog",)) == []  # fmt: skip
    assert root_query("SELECT User FROM mysql.user WHERE User = %s", (f"{sibling}_blog",)) == []


def test_the_agent_checks_ownership_again_for_a_config_built_in_memory() -> None:
    # A config made by code (not read from the files) goes through check_owned before
    # anything reaches MariaDB: a foreign DB user alone is refused too.
    from jopanel.agent.databases import check_owned
    from jopanel.schemas.databases import Databases

    section = Databases.model_validate(
        {"users": [{"name": "joko2_blog", "password_hash": "*" + "A" * 40}]}
    )
    with pytest.raises(ValidationFailed, match="got 'joko2_blog'"):
        check_owned("joko", section)
    check_owned("joko2", section)
