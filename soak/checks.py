"""The end checks. Each returns the breaches it found (one string each = one violation).

They read the product's files directly and compute the SPEC's formulas themselves, so a
bug shared by the product's own checker and its writer cannot hide here.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx

from .cluster import ADMIN, ADMIN_PASSWORD, Cluster
from .ledger import JOURNAL_ACTION, Ledger, Sample

KINDS = ("account", "limits", "domains", "services", "ssh", "meta")
UID_MIN, UID_MAX = 20000, 59999  # JoPanel's default range (settings.uid_min/uid_max)
JOURNAL_SLACK_S = 2.0


def spec_revision(docs: dict[str, Any]) -> str:
    """SPEC §3: sha256 over the five documents other than meta.json, canonical JSON."""
    payload = {kind: docs[kind] for kind in KINDS if kind != "meta"}
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def accounts_on_disk(root: Path) -> dict[str, dict[str, Any] | None]:
    """username -> its six documents (None when they cannot be read as one revision)."""
    users = root / "etc/jopanel/users"
    found: dict[str, dict[str, Any] | None] = {}
    for entry in sorted(users.iterdir()):
        if entry.name.startswith(".") or not entry.is_symlink():
            continue
        try:
            found[entry.name] = {k: json.loads((entry / f"{k}.json").read_text()) for k in KINDS}
        except (OSError, ValueError):
            found[entry.name] = None
    return found


def check_revisions(root: Path) -> list[str]:
    """Every account directory is one valid revision: a link to a revision directory whose
    files are all there, private, and add up to the revision meta.json names."""
    users = root / "etc/jopanel/users"
    bad: list[str] = []
    for entry in sorted(users.iterdir()):
        if entry.name.startswith("."):
            continue
        if not entry.is_symlink():
            bad.append(f"revision: {entry.name} is not a revision link")
            continue
        target = os.readlink(entry)
        if target != f".revisions/{entry.name}/{Path(target).name}" or not entry.is_dir():
            bad.append(f"revision: {entry.name} -> {target!r} is not an existing revision")
            continue
        docs: dict[str, Any] = {}
        for kind in KINDS:
            path = entry / f"{kind}.json"
            try:
                st = path.stat()
                docs[kind] = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                bad.append(f"revision: {entry.name}/{kind}.json unreadable: {exc}")
                break
            if stat.S_IMODE(st.st_mode) != 0o600:
                bad.append(f"revision: {entry.name}/{kind}.json has mode {st.st_mode:o}")
        else:
            stored = docs["meta"].get("last_applied_revision")
            if stored != spec_revision(docs):
                bad.append(f"revision: {entry.name} files do not add up to {stored}")
    return bad


def check_ledger(cluster: Cluster, ledger: Ledger) -> list[str]:
    """Every 2xx answer is reflected on disk: configs, files in the homes, databases."""
    disk = accounts_on_disk(cluster.root)
    bad: list[str] = []
    for name, account in sorted(ledger.accounts.items()):
        docs = disk.get(name)
        if name in disk and docs is None:
            continue  # reported by check_revisions
        bad += [f"ledger: {problem}" for problem in account.compare(docs)]
        if account.exists and docs is not None and "exists" not in account.unsure:
            home = cluster.root / "home" / name
            for path, content in sorted(account.files.items()):
                try:
                    actual = (home / path).read_text()
                except OSError:
                    actual = None
                if actual != content:
                    bad.append(f"ledger: {name}/{path} holds {actual!r}, promised {content!r}")
    return bad


def _login(http: httpx.Client, name: str, password: str) -> httpx.Response:
    return http.post("/api/auth/login", json={"username": name, "password": password})


def check_logins(cluster: Cluster, ledger: Ledger) -> list[str]:
    """The promised password logs in to every active account; a suspended one cannot."""
    bad: list[str] = []
    with httpx.Client(base_url=cluster.url, timeout=60) as http:
        for name, a in sorted(ledger.accounts.items()):
            if not a.exists or a.unsure:
                continue
            candidates = [a.password] + ([a.pending_password] if a.password_unsure else [])
            codes = []
            for password in candidates:
                response = _login(http, name, password)
                if response.status_code == 429:
                    # The load's logins of a drifting account used up its failed-login
                    # window (shared by every worker, kept across API restarts): lifted
                    # as an admin would, then asked again.
                    cluster.cli("admin", "unblock", name)
                    response = _login(http, name, password)
                codes.append(response.status_code)
                if response.status_code == 200:
                    break
            if a.status == "active" and 200 not in codes:
                bad.append(f"login: {name} refuses its promised password ({codes})")
            if a.status == "suspended" and 200 in codes:
                bad.append(f"login: suspended {name} logged in")
    return bad


def check_answers(cluster: Cluster, ledger: Ledger) -> list[str]:
    """No 5xx except 503 while the agent was down (and the 500 of a create whose useradd
    the shim failed); no request left unanswered except while the API was down."""
    fired = cluster.useradd_fired()
    bad: list[str] = []
    for s in ledger.samples:
        agent_down = cluster.down_during("agent", s.start, s.end)
        api_down = cluster.down_during("api", s.start, s.end)
        shim = any(s.start - 0.5 <= t <= s.end + 0.5 for t in fired)
        creates = s.kind in ("user.create", "cli.user.create")
        if s.via == "api":
            if s.status is None:
                ok = api_down
            elif s.status == 503:
                ok = agent_down
            elif s.status >= 500:
                ok = s.status == 500 and creates and shim
            else:
                continue
        else:
            code = None if s.status is None else s.status - 1000
            if code in (0, 2, 3, 4):
                continue
            ok = (
                (code == 6 and agent_down)
                or (code in (1, 6, 7) and creates and shim)
                or (code in (1, None) and agent_down)
            )
        if not ok:
            bad.append(f"answer: {s.kind} {s.target or ''} -> {s.status} {s.detail[:200]}")
    return bad


def journal(root: Path) -> list[dict[str, Any]]:
    path = root / "var/log/jopanel/audit.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    entries = []
    for line in lines:
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue
    return entries


def _when(entry: dict[str, Any]) -> float:
    from datetime import datetime  # noqa: PLC0415

    return datetime.fromisoformat(entry["at"]).timestamp()


def check_audit(root: Path, samples: list[Sample]) -> list[str]:
    """Every accepted change has its own `ok` line in the agent's journal, written while
    the request ran."""
    entries: dict[tuple[str, str | None], list[float]] = defaultdict(list)
    for entry in journal(root):
        if entry.get("result") == "ok":
            entries[(entry["action"], entry.get("target"))].append(_when(entry))
    for times in entries.values():
        times.sort()
    bad: list[str] = []
    for s in sorted(samples, key=lambda s: s.end):
        action = JOURNAL_ACTION.get(s.kind.removeprefix("cli."))
        if action is None or not s.accepted:
            continue
        times = entries.get((action, s.target), [])
        match = next(
            (t for t in times if s.start - JOURNAL_SLACK_S <= t <= s.end + JOURNAL_SLACK_S), None
        )
        if match is None:
            bad.append(f"audit: no journal entry for {s.kind} {s.target} answered {s.status}")
        else:
            times.remove(match)
    return bad


def check_dead_tokens(cluster: Cluster, dead: list[tuple[str, str, str, str]]) -> list[str]:
    bad: list[str] = []
    with httpx.Client(base_url=cluster.url, timeout=60) as http:
        for name, why, access, _refresh in dead:
            response = http.get("/api/user/account", headers={"Authorization": f"Bearer {access}"})
            if response.status_code < 300:
                bad.append(f"token: a token of {name} issued before it was {why} works at the end")
    return bad


def admin_token(cluster: Cluster) -> str:
    response = httpx.post(
        f"{cluster.url}/api/auth/login",
        json={"username": ADMIN, "password": ADMIN_PASSWORD},
        timeout=60,
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def index_rows(cluster: Cluster) -> dict[str, dict[str, Any]]:
    response = httpx.get(
        f"{cluster.url}/api/admin/users",
        params={"per_page": 500},
        headers={"Authorization": f"Bearer {admin_token(cluster)}"},
        timeout=60,
    )
    response.raise_for_status()
    return {row["username"]: row for row in response.json()["items"]}


def disk_rows(root: Path) -> dict[str, dict[str, Any]]:
    rows = {}
    for name, docs in accounts_on_disk(root).items():
        if docs is None:
            continue
        account = docs["account"]
        rows[name] = {
            "username": name,
            "primary_domain": account["primary_domain"],
            "contact_email": account["contact_email"],
            "package": account["package"],
            "status": account["status"],
            "owner": account["owner"],
        }
    return rows


def index_differences(cluster: Cluster) -> list[str]:
    index, disk = index_rows(cluster), disk_rows(cluster.root)
    bad = [f"index: {n} is on disk, not in the index" for n in sorted(set(disk) - set(index))]
    bad += [f"index: {n} is in the index, not on disk" for n in sorted(set(index) - set(disk))]
    for name in sorted(set(index) & set(disk)):
        if index[name] != disk[name]:
            bad.append(f"index: {name} is {index[name]}, on disk {disk[name]}")
    return bad


def check_index_after_reindex(cluster: Cluster) -> list[str]:
    response = httpx.post(
        f"{cluster.url}/api/admin/reindex",
        headers={"Authorization": f"Bearer {admin_token(cluster)}"},
        timeout=120,
    )
    if response.status_code != 200:
        return [f"index: reindex answered {response.status_code}"]
    return index_differences(cluster)


def reconcile(cluster: Cluster) -> tuple[list[str], list[str]]:
    """One real reconcile (what it repaired, as notes), then a dry run that must find
    nothing left to do."""
    notes: list[str] = []
    first = cluster.cli("--json", "reconcile", check=False)
    if first.returncode != 0:
        return [], [f"reconcile: exited {first.returncode}: {first.stderr.strip()[-300:]}"]
    for row in json.loads(first.stdout).get("data") or []:
        if row.get("changes"):
            notes.append(f"reconcile repaired {row['username']}: {row['changes']}")
    second = cluster.cli("--json", "reconcile", "--dry-run", check=False)
    if second.returncode != 0:
        return notes, [f"reconcile --dry-run: exited {second.returncode}: {second.stderr[-300:]}"]
    result = json.loads(second.stdout)
    bad = [f"reconcile: still planned after a reconcile: {step}" for step in result["plan"]]
    for row in result.get("data") or []:
        if row.get("changes") or row.get("error"):
            bad.append(f"reconcile: {row['username']} still drifts: {row}")
    return notes, bad


def _names(path: Path, prefix: str = "", suffix: str = "") -> set[str]:
    if not path.is_dir():
        return set()
    return {
        p.name.removeprefix(prefix).removesuffix(suffix)
        for p in path.iterdir()
        if p.name.startswith(prefix) and p.name.endswith(suffix)
    }


def crash_litter(root: Path) -> list[str]:
    """Temp files of an atomic replace cut short by a kill (`.NAME.tmp-XXXX`): harmless
    (cron and the store skip dot files), reported as notes."""
    found: list[str] = []
    for directory in (root / "var/spool/cron/crontabs", root / "etc/jopanel/users"):
        if directory.is_dir():
            found += [str(p.relative_to(root)) for p in directory.glob(".*.tmp-*")]
    return sorted(found)


def orphans(root: Path) -> list[str]:
    """Linux users, groups, homes, vhosts, pools and crontabs no account config claims."""
    accounts = set(accounts_on_disk(root))
    found: dict[str, set[str]] = {}
    for name in ("passwd", "group"):
        ids = set()
        for line in (root / "etc" / name).read_text().splitlines():
            fields = line.split(":")
            if len(fields) > 2 and fields[2].isdigit() and UID_MIN <= int(fields[2]) <= UID_MAX:
                ids.add(fields[0])
        found[f"Linux {'user' if name == 'passwd' else 'group'}"] = ids
    found["home"] = _names(root / "home")
    found["vhost"] = _names(root / "etc/nginx/sites-enabled", "jopanel-", ".conf") | _names(
        root / "etc/nginx/sites-available", "jopanel-", ".conf"
    )
    pools: set[str] = set()
    for pool_dir in (root / "etc/php").glob("*/fpm/pool.d"):
        pools |= _names(pool_dir, "jopanel-", ".conf")
    found["pool"] = pools
    found["crontab"] = {
        n for n in _names(root / "var/spool/cron/crontabs") if not n.startswith(".")
    }
    return [
        f"orphan: {what} {name} belongs to no account"
        for what, names in found.items()
        for name in sorted(names - accounts)
    ]


def orphan_databases(prefix: str, root: Path) -> tuple[list[str], list[str]]:
    """Databases and DB users of this run's accounts that no config lists (and every name
    of this run, to drop at the end)."""
    import pymysql  # noqa: PLC0415

    listed: set[str] = set()
    users: set[str] = set()
    for docs in accounts_on_disk(root).values():
        if docs is None:
            continue
        dbs = docs["services"].get("databases", {})
        listed |= {d["name"] for d in dbs.get("databases", [])}
        users |= {u["name"] for u in dbs.get("users", [])}
    pattern = prefix.replace("_", "\\_") + "%"
    conn = pymysql.connect(user="root", unix_socket="/run/mysqld/mysqld.sock")
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW DATABASES LIKE %s", (pattern,))
            on_server = {row[0] for row in cur.fetchall()}
            cur.execute("SELECT User FROM mysql.user WHERE User LIKE %s", (pattern,))
            server_users = {row[0] for row in cur.fetchall()}
    finally:
        conn.close()
    bad = [f"orphan: database {n} belongs to no account" for n in sorted(on_server - listed)]
    bad += [f"orphan: DB user {n} belongs to no account" for n in sorted(server_users - users)]
    bad += [f"ledger: database {n} is listed but not on the server" for n in listed - on_server]
    return bad, sorted(on_server | server_users)


def drop_databases(prefix: str) -> None:
    import pymysql  # noqa: PLC0415

    pattern = prefix.replace("_", "\\_") + "%"
    conn = pymysql.connect(user="root", unix_socket="/run/mysqld/mysqld.sock", autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW DATABASES LIKE %s", (pattern,))
            for (name,) in cur.fetchall():
                cur.execute(f"DROP DATABASE `{name}`")
            cur.execute("SELECT User, Host FROM mysql.user WHERE User LIKE %s", (pattern,))
            for user, host in cur.fetchall():
                cur.execute("DROP USER %s@%s", (user, host))
    finally:
        conn.close()
