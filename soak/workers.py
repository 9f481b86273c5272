"""The load: API clients (each owning a few accounts), a CLI client, and a uid sampler.

Every request is timed and recorded in the ledger; every 2xx answer updates the promised
state of the account it changed; every change that got no clear answer marks what it
touched as unsure until the owner reads it back.
"""

from __future__ import annotations

import random
import secrets
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from .cluster import ADMIN, ADMIN_PASSWORD, Cluster
from .ledger import Account, Ledger, Sample, key_blob

# A 5xx or no answer: the change may or may not have happened.
AMBIGUOUS = frozenset({None, 500, 502, 503, 504})


def new_password() -> str:
    return "pw-" + secrets.token_urlsafe(12)


def db_password(username: str) -> str:
    """A strong password that names neither the account nor the database."""
    while True:
        password = "Soak-" + secrets.token_urlsafe(12)
        if "d1" not in password.lower() and username not in password.lower():
            return password


class Client:
    """One httpx client that times and records each request."""

    def __init__(self, cluster: Cluster, ledger: Ledger, address: str = "127.0.0.1") -> None:
        self.cluster = cluster
        self.ledger = ledger
        # Each client its own loopback address, as clients on different hosts would be:
        # the API's per-address login throttle counts them apart.
        transport = httpx.HTTPTransport(local_address=address)
        self.http = httpx.Client(base_url=cluster.url, timeout=120, transport=transport)
        self.admin_token = ""

    def close(self) -> None:
        self.http.close()

    def call(
        self,
        kind: str,
        method: str,
        path: str,
        *,
        token: str | None = None,
        target: str | None = None,
        **kwargs: Any,
    ) -> httpx.Response | None:
        headers = dict(kwargs.pop("headers", {}) or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        start = time.time()
        response: httpx.Response | None = None
        detail = ""
        try:
            response = self.http.request(method, path, headers=headers, **kwargs)
            if response.status_code >= 400:
                detail = response.text[:300]
        except httpx.TransportError as exc:
            detail = f"{type(exc).__name__}: {exc}"
        status = response.status_code if response is not None else None
        self.ledger.record(Sample(kind, "api", start, time.time(), status, target, detail))
        if response is None:
            time.sleep(0.25)  # the API is down: a real client backs off too
        return response

    def admin(self, kind: str, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
        """As the admin; logs in again when the token is missing or refused."""
        for _ in range(3):
            if not self.admin_token:
                self.login_admin()
                if not self.admin_token:
                    time.sleep(0.3)
                    continue
            response = self.call(kind, method, path, token=self.admin_token, **kwargs)
            if response is not None and response.status_code == 401:
                self.admin_token = ""
                continue
            return response
        return None

    def login_admin(self) -> None:
        response = self.call(
            "auth.login", "POST", "/api/auth/login",
            json={"username": ADMIN, "password": ADMIN_PASSWORD},
        )  # fmt: skip
        if response is not None and response.status_code == 200:
            self.admin_token = response.json()["access_token"]


class Tokens:
    """Tokens issued to accounts, to try again once the account is suspended or deleted."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        # (account, incarnation) -> [(access, refresh, issued at)]
        self.issued: dict[tuple[str, int], list[tuple[str, str]]] = {}
        # tokens that must not work any more: (name, why, access, refresh)
        self.dead: list[tuple[str, str, str, str]] = []

    def add(self, account: Account, access: str, refresh: str) -> None:
        with self.lock:
            self.issued.setdefault((account.name, account.incarnation), []).append(
                (access, refresh)
            )

    def hold(self, account: Account) -> list[tuple[str, str]]:
        """The tokens of an account whose delete got no answer: neither live nor dead
        until the account is read back (`judge`); the delete may never have run."""
        with self.lock:
            return self.issued.pop((account.name, account.incarnation), [])

    def judge(self, account: Account, pairs: list[tuple[str, str]], gone: bool) -> None:
        with self.lock:
            if gone:
                self.dead += [(account.name, "deleted (unanswered)", a, r) for a, r in pairs]
            else:
                key = (account.name, account.incarnation)
                self.issued.setdefault(key, []).extend(pairs)

    def kill(self, account: Account, why: str) -> list[tuple[str, str]]:
        with self.lock:
            pairs = self.issued.pop((account.name, account.incarnation), [])
            self.dead += [(account.name, why, a, r) for a, r in pairs]
            return pairs


def check_dead_tokens(
    client: Client, ledger: Ledger, name: str, why: str, pairs: list[tuple[str, str]]
) -> None:
    """Tokens of a suspended or deleted account must not work once the change answered."""
    for access, refresh in pairs:
        me = client.call("token.old", "GET", "/api/user/account", token=access, target=name)
        if me is not None and me.status_code < 300:
            ledger.violation(f"{name}: an access token issued before it was {why} still works")
        again = client.call(
            "token.old", "POST", "/api/auth/refresh", json={"refresh_token": refresh}, target=name
        )
        if again is not None and again.status_code < 300:
            ledger.violation(f"{name}: a refresh token issued before it was {why} still works")


class ApiWorker:
    """A client of the REST API that owns a few accounts and does everything to them."""

    def __init__(
        self,
        wid: str,
        cluster: Cluster,
        ledger: Ledger,
        tokens: Tokens,
        names: list[str],
        keys: list[str],
        stop: threading.Event,
        seed: int,
    ) -> None:
        self.wid = wid
        self.cluster = cluster
        self.ledger = ledger
        self.tokens = tokens
        self.keys = keys
        self.stop = stop
        self.rng = random.Random(seed)
        self.client = Client(cluster, ledger, f"127.0.1.{ord(wid) - 96}")
        self.accounts = [Account(name, wid) for name in names]
        for account in self.accounts:
            ledger.accounts[account.name] = account
        self.sessions: dict[str, tuple[str, str]] = {}  # name -> (access, refresh)
        # name -> (uid, tokens) of an account whose delete got no answer (Tokens.hold)
        self.held: dict[str, tuple[int | None, list[tuple[str, str]]]] = {}
        self.etags: dict[str, list[str]] = {}  # name -> ETags seen, oldest first
        self.counter = 0
        self.skip_databases = False
        self.refused_once: set[str] = set()

    # --- the loop --------------------------------------------------------------------
    def run(self) -> None:
        try:
            while not self.stop.is_set():
                account = self.rng.choice(self.accounts)
                if account.unsure or account.files_unsure:
                    self.resync(account)
                    continue
                action = self.pick(account)
                action(account)
        finally:
            self.client.close()

    def pick(self, a: Account) -> Callable[[Account], object]:
        if not a.exists:
            return self.create
        if a.status == "suspended":
            choices: list[tuple[Callable[[Account], object], int]] = [
                (self.unsuspend, 5), (self.delete, 1), (self.update, 2), (self.search, 2),
                (self.login_refused, 1),
            ]  # fmt: skip
        else:
            choices = [
                (self.update, 4), (self.stale_update, 1), (self.suspend, 2),
                (self.password, 2), (self.delete, 1), (self.search, 2), (self.login, 2),
                (self.refresh, 2), (self.domain, 3), (self.key, 3), (self.cron, 3),
                (self.file, 4), (self.database, 0 if self.skip_databases else 1),
            ]  # fmt: skip
        chosen: Callable[[Account], object] = self.rng.choices(
            [c[0] for c in choices], [c[1] for c in choices]
        )[0]
        return chosen

    def unanswered(self, a: Account, response: httpx.Response | None, *fields: str) -> bool:
        """True (and the fields become unsure) when the change got no clear answer."""
        if response is None or response.status_code in AMBIGUOUS:
            a.unsure.update(fields)
            a.drifting = True
            return True
        if response.status_code < 300:
            a.drifting = False  # an accepted change converges the whole account
        return False

    def unexpected(self, kind: str, a: Account, response: httpx.Response, *ok: int) -> None:
        if response.status_code not in ok and response.status_code not in AMBIGUOUS:
            self.ledger.violation(
                f"{kind} {a.name}: answered {response.status_code} {response.text[:200]}"
            )

    # --- account lifecycle (as the admin) -------------------------------------------
    def create(self, a: Account) -> None:
        password = new_password()
        email = f"{a.name}@example.com"
        primary = f"{a.name}.example.com"
        body = {"username": a.name, "password": password, "contact_email": email,
                "primary_domain": primary}  # fmt: skip
        response = self.client.admin("user.create", "POST", "/api/admin/users", json=body,
                                     target=a.name)  # fmt: skip
        if self.unanswered(a, response, "exists", "password"):
            a.pending_password = password
            # A 500 is a refusal (the injected useradd failure): nothing may be left of it.
            a.failed_create = response is not None and response.status_code == 500
            return
        assert response is not None
        if response.status_code == 201:
            view = response.json()
            a.reset()
            a.exists, a.password, a.email, a.primary = True, password, email, primary
            a.incarnation += 1
            a.uid = view["account"]["uid"]
            self.ledger.saw_uid(a, view["account"]["uid"])
            self.etags[a.name] = [response.headers.get("etag", "")]
            self.sessions.pop(a.name, None)
        else:
            self.unexpected("user.create", a, response, 201)

    def delete(self, a: Account) -> None:
        response = self.client.admin(
            "user.delete", "DELETE", f"/api/admin/users/{a.name}", target=a.name
        )
        if self.unanswered(a, response, "exists"):
            uid, pairs = self.held.get(a.name, (a.uid, []))
            self.held[a.name] = (uid, pairs + self.tokens.hold(a))
            return
        assert response is not None
        if response.status_code == 204:
            a.reset()
            self.sessions.pop(a.name, None)
            pairs = self.tokens.kill(a, "deleted")
            check_dead_tokens(self.client, self.ledger, a.name, "deleted", pairs)
        else:
            self.unexpected("user.delete", a, response, 204)

    def get(self, a: Account, kind: str = "user.get") -> dict[str, Any] | None | bool:
        """The account's documents (None: 404; False: no clear answer)."""
        response = self.client.admin(kind, "GET", f"/api/admin/users/{a.name}", target=a.name)
        if response is None or response.status_code >= 500:
            return False
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            self.unexpected(kind, a, response, 200)
            return False
        self.etags.setdefault(a.name, []).append(response.headers.get("etag", ""))
        data: dict[str, Any] = response.json()
        return data

    def update(self, a: Account) -> None:
        docs = self.get(a)
        if not isinstance(docs, dict):
            return
        etag = self.etags[a.name][-1]
        email = f"{a.name}+{self.rng.randrange(1000)}@example.com"
        notes = f"soak {self.counter}"
        self.counter += 1
        response = self.client.admin(
            "user.update", "PUT", f"/api/admin/users/{a.name}",
            json={"account": {"contact_email": email}, "meta": {"notes": notes}},
            headers={"If-Match": etag}, target=a.name,
        )  # fmt: skip
        if self.unanswered(a, response, "email", "notes"):
            return
        assert response is not None
        if response.status_code == 200:
            a.email, a.notes = email, notes
            self.etags[a.name].append(response.headers.get("etag", ""))
        else:
            self.unexpected("user.update", a, response, 200, 412)

    def stale_update(self, a: Account) -> None:
        """An If-Match from before a change this client saw answered: must be 412."""
        seen = self.etags.get(a.name, [])
        current = self.get(a)
        if not isinstance(current, dict) or len(seen) < 2:
            return
        latest = seen[-1]
        stale = next((e for e in reversed(seen) if e and e != latest), None)
        if stale is None:
            return
        response = self.client.admin(
            "user.update.stale", "PUT", f"/api/admin/users/{a.name}",
            json={"meta": {"notes": "stale write"}}, headers={"If-Match": stale}, target=a.name,
        )  # fmt: skip
        if self.unanswered(a, response, "notes"):
            return
        assert response is not None
        if response.status_code < 300:
            self.ledger.violation(f"{a.name}: an update with a stale If-Match was accepted")
            a.notes = "stale write"
        elif response.status_code != 412:
            self.unexpected("user.update.stale", a, response, 412)

    def suspend(self, a: Account) -> None:
        response = self.client.admin(
            "user.suspend", "POST", f"/api/admin/users/{a.name}/suspend", target=a.name
        )
        if self.unanswered(a, response, "status"):
            return
        assert response is not None
        if response.status_code == 200:
            a.status = "suspended"
            self.refused_once.discard(a.name)
            self.sessions.pop(a.name, None)
            pairs = self.tokens.kill(a, "suspended")
            check_dead_tokens(self.client, self.ledger, a.name, "suspended", pairs)
        else:
            self.unexpected("user.suspend", a, response, 200)

    def unsuspend(self, a: Account) -> None:
        response = self.client.admin(
            "user.unsuspend", "POST", f"/api/admin/users/{a.name}/unsuspend", target=a.name
        )
        if self.unanswered(a, response, "status"):
            return
        assert response is not None
        if response.status_code == 200:
            a.status = "active"
        else:
            self.unexpected("user.unsuspend", a, response, 200)

    def password(self, a: Account) -> None:
        password = new_password()
        response = self.client.admin(
            "user.password", "POST", f"/api/admin/users/{a.name}/reset-password",
            json={"password": password}, target=a.name,
        )  # fmt: skip
        if self.unanswered(a, response, "password"):
            a.pending_password = password
            return
        assert response is not None
        if response.status_code == 204:
            a.password = password
        else:
            self.unexpected("user.password", a, response, 204)

    def search(self, a: Account) -> None:
        response = self.client.admin(
            "user.search", "GET", "/api/admin/users", params={"search": a.name[:4]}
        )
        if response is not None and response.status_code not in (200, 503):
            self.unexpected("user.search", a, response, 200)

    # --- the account's own login ------------------------------------------------------
    def login(self, a: Account) -> str | None:
        response = self.client.call(
            "auth.login", "POST", "/api/auth/login",
            json={"username": a.name, "password": a.password}, target=a.name,
        )  # fmt: skip
        if response is None or response.status_code >= 500:
            return None
        if response.status_code == 429:
            self.ledger.note(f"{a.name}: login throttled (429)")
            return None
        if response.status_code != 200:
            if a.drifting:
                # A change cut short by a kill may have written the config but not yet
                # converged the system (e.g. the password still locked after an unsuspend):
                # the next change or reconcile converges it; the final check is after that.
                self.ledger.note(f"{a.name}: login refused while it drifts after a lost answer")
            else:
                self.ledger.violation(
                    f"{a.name}: login with the promised password answered {response.status_code}"
                )
            return None
        pair = response.json()
        self.sessions[a.name] = (pair["access_token"], pair["refresh_token"])
        self.tokens.add(a, pair["access_token"], pair["refresh_token"])
        return str(pair["access_token"])

    def login_refused(self, a: Account) -> None:
        if a.name in self.refused_once:
            return  # once per suspension: failed logins count against the throttle
        self.refused_once.add(a.name)
        response = self.client.call(
            "auth.login", "POST", "/api/auth/login",
            json={"username": a.name, "password": a.password}, target=a.name,
        )  # fmt: skip
        if response is not None and response.status_code < 300:
            self.ledger.violation(f"{a.name}: a suspended account could log in")

    def refresh(self, a: Account) -> None:
        session = self.sessions.get(a.name)
        if session is None:
            self.login(a)
            return
        response = self.client.call(
            "auth.refresh", "POST", "/api/auth/refresh",
            json={"refresh_token": session[1]}, target=a.name,
        )  # fmt: skip
        if response is not None and response.status_code == 200:
            pair = response.json()
            self.sessions[a.name] = (pair["access_token"], pair["refresh_token"])
            self.tokens.add(a, pair["access_token"], pair["refresh_token"])
        else:
            self.sessions.pop(a.name, None)
            if response is not None and response.status_code not in (401, 503):
                self.unexpected("auth.refresh", a, response, 200)

    def token(self, a: Account) -> str | None:
        session = self.sessions.get(a.name)
        return session[0] if session else self.login(a)

    def as_account(
        self, a: Account, kind: str, method: str, path: str, **kwargs: Any
    ) -> httpx.Response | None:
        token = self.token(a)
        if token is None:
            return None
        response = self.client.call(kind, method, path, token=token, target=a.name, **kwargs)
        if response is not None and response.status_code == 401:
            self.sessions.pop(a.name, None)
            token = self.login(a)
            if token is None:
                return None
            response = self.client.call(kind, method, path, token=token, target=a.name, **kwargs)
        return response

    # --- hosting ------------------------------------------------------------------------
    def domain(self, a: Account) -> None:
        if a.domains and self.rng.random() < 0.6:
            name = self.rng.choice(sorted(a.domains))
            response = self.as_account(a, "domain.remove", "DELETE", f"/api/user/domains/{name}")
            if self.unanswered(a, response, "domains"):
                return
            assert response is not None
            if response.status_code == 204:
                a.domains.discard(name)
            else:
                self.unexpected("domain.remove", a, response, 204)
            return
        name = f"d{self.rng.randrange(100)}-{a.name}.example.org"
        response = self.as_account(
            a, "domain.add", "POST", "/api/user/domains", json={"domain": name, "type": "addon"}
        )
        if self.unanswered(a, response, "domains"):
            return
        assert response is not None
        if response.status_code == 201:
            a.domains.add(name)
        else:
            self.unexpected("domain.add", a, response, 201, 409)

    def key(self, a: Account) -> None:
        if a.keys and self.rng.random() < 0.5:
            response = self.as_account(a, "key.list", "GET", "/api/user/ssh-keys")
            if response is None or response.status_code != 200:
                return
            listed = response.json()
            if not listed:
                return
            chosen = self.rng.choice(listed)
            response = self.as_account(
                a, "key.remove", "DELETE", f"/api/user/ssh-keys/{chosen['fingerprint']}"
            )
            if self.unanswered(a, response, "keys"):
                return
            assert response is not None
            if response.status_code == 204:
                a.keys.discard(key_blob(chosen["key"]))
            else:
                self.unexpected("key.remove", a, response, 204)
            return
        line = self.rng.choice(self.keys)
        response = self.as_account(a, "key.add", "POST", "/api/user/ssh-keys", json={"key": line})
        if self.unanswered(a, response, "keys"):
            return
        assert response is not None
        if response.status_code == 201:
            a.keys.add(key_blob(line))
        else:
            self.unexpected("key.add", a, response, 201, 409)

    def cron(self, a: Account) -> None:
        if a.cron and self.rng.random() < 0.5:
            job = self.rng.choice(sorted(a.cron))
            response = self.as_account(a, "cron.remove", "DELETE", f"/api/user/cron/{job}")
            if self.unanswered(a, response, "cron"):
                return
            assert response is not None
            if response.status_code == 204:
                a.cron.discard(job)
            else:
                self.unexpected("cron.remove", a, response, 204)
            return
        body = {"minute": str(self.rng.randrange(60)), "hour": "*", "command": "true soak"}
        response = self.as_account(a, "cron.add", "POST", "/api/user/cron", json=body)
        if self.unanswered(a, response, "cron"):
            return
        assert response is not None
        if response.status_code == 201:
            a.cron.add(response.json()["id"])
        else:
            self.unexpected("cron.add", a, response, 201, 409)

    def file(self, a: Account) -> None:
        path = f"public_html/soak-{self.rng.randrange(4)}.txt"
        if path in a.files and self.rng.random() < 0.3:
            response = self.as_account(
                a, "file.delete", "DELETE", "/api/user/files/delete", params={"path": path}
            )
            if response is None or response.status_code in AMBIGUOUS:
                a.files.pop(path, None)
                a.files_unsure.add(path)
                return
            if response.status_code == 204:
                a.files.pop(path, None)
            else:
                self.unexpected("file.delete", a, response, 204)
            return
        if self.rng.random() < 0.3:
            response = self.as_account(
                a, "file.list", "GET", "/api/user/files/list", params={"path": "public_html"}
            )
            return
        content = f"soak {a.name} {self.counter} {secrets.token_hex(8)}\n"
        self.counter += 1
        response = self.as_account(
            a, "file.save", "PUT", "/api/user/files/content", params={"path": path},
            content=content.encode(),
        )  # fmt: skip
        if response is None or response.status_code in AMBIGUOUS:
            a.files.pop(path, None)
            a.files_unsure.add(path)
            return
        if response.status_code == 200:
            a.files[path] = content
            a.files_unsure.discard(path)
        else:
            self.unexpected("file.save", a, response, 200)

    def database(self, a: Account) -> None:
        if a.dbs:
            name = self.rng.choice(sorted(a.dbs))
            response = self.as_account(a, "db.delete", "DELETE", f"/api/user/databases/{name}")
            if self.unanswered(a, response, "dbs"):
                return
            assert response is not None
            if response.status_code == 204:
                a.dbs.discard(name)
            else:
                self.unexpected("db.delete", a, response, 204)
            return
        body = {"name": "d1", "password": db_password(a.name)}
        response = self.as_account(a, "db.create", "POST", "/api/user/databases", json=body)
        if self.unanswered(a, response, "dbs"):
            return
        assert response is not None
        if response.status_code == 201:
            a.dbs.add(response.json()["name"])
        else:
            self.unexpected("db.create", a, response, 201, 409)

    # --- after a lost answer: read back, check what was promised, adopt the rest ---------
    def resync(self, a: Account) -> None:
        docs = self.get(a, "user.resync")
        if docs is False:
            time.sleep(0.3)
            return
        assert not isinstance(docs, bool)
        a.created_unanswered = "exists" in a.unsure and docs is not None and not a.exists
        if a.created_unanswered:
            if a.failed_create:
                self.ledger.violation(f"{a.name}: create answered 500, yet the account exists")
            a.incarnation += 1  # a create that went through without an answer
        a.failed_create = False
        for problem in a.compare(docs):
            self.ledger.violation(f"after a lost answer: {problem}")
        a.adopt(docs)
        if docs is not None and a.uid is not None:
            self.ledger.saw_uid(a, a.uid)
        held = self.held.pop(a.name, None)
        if held is not None:  # the unanswered delete ran only if the account is gone or new
            self.tokens.judge(a, held[1], gone=docs is None or a.uid != held[0])
        if "password" in a.unsure:
            self.adopt_password(a)
        if a.files_unsure and a.exists:
            home = self.cluster.root / "home" / a.name
            for path in list(a.files_unsure):
                target = home / path
                if target.is_file():
                    a.files[path] = target.read_text()
            a.files_unsure.clear()
        elif not a.exists:
            a.files_unsure.clear()

    def adopt_password(self, a: Account) -> None:
        if not a.exists or a.status != "active":
            a.unsure.discard("password")
            if a.pending_password and not a.password:
                a.password = a.pending_password
            return
        for candidate in (a.pending_password, a.password):
            if not candidate:
                continue
            response = self.client.call(
                "auth.login", "POST", "/api/auth/login",
                json={"username": a.name, "password": candidate}, target=a.name,
            )  # fmt: skip
            if response is None or response.status_code >= 500:
                return  # try again later
            if response.status_code == 200:
                a.password = candidate
                a.unsure.discard("password")
                return
        a.unsure.discard("password")
        how = "an unanswered create" if a.created_unanswered else "an unanswered password change"
        # (an agent killed inside create_user used to leave this: jopanel/agent/unfinished.py)
        self.ledger.violation(f"{a.name}: after {how}, neither password logs in")
        self.password(a)  # what an admin would do: set a known password


class CliWorker:
    """`jopanel --root R user ...` while the agent runs, on accounts of its own."""

    def __init__(
        self, cluster: Cluster, ledger: Ledger, names: list[str], stop: threading.Event, seed: int
    ) -> None:
        self.cluster = cluster
        self.ledger = ledger
        self.stop = stop
        self.rng = random.Random(seed)
        self.accounts = [Account(name, "cli") for name in names]
        for account in self.accounts:
            ledger.accounts[account.name] = account

    def cli(self, kind: str, target: str, *args: str, input: str | None = None) -> int | None:
        start = time.time()
        try:
            proc = self.cluster.cli(*args, input=input, check=False)
        except subprocess.TimeoutExpired:
            self.ledger.record(Sample(kind, "cli", start, time.time(), None, target, "timeout"))
            return None
        detail = proc.stderr.strip()[-300:] if proc.returncode else ""
        sample = Sample(kind, "cli", start, time.time(), 1000 + proc.returncode, target, detail)
        self.ledger.record(sample)
        return proc.returncode

    def run(self) -> None:
        while not self.stop.is_set():
            a = self.rng.choice(self.accounts)
            if a.unsure:
                self.resync(a)
            elif not a.exists:
                self.create(a)
            else:
                self.rng.choices(
                    [self.update, self.suspend_cycle, self.password, self.delete, self.list],
                    [4, 2, 2, 1, 2],
                )[0](a)

    def done(self, a: Account, rc: int | None, *fields: str) -> bool:
        if rc == 0:
            return True
        if rc is None or rc in (1, 6, 7):  # no answer, agent gone, a command failed
            a.unsure.update(fields)
        else:
            self.ledger.note(f"cli on {a.name} exited {rc}")
        return False

    def create(self, a: Account) -> None:
        password = new_password()
        email, primary = f"{a.name}@example.com", f"{a.name}.example.com"
        rc = self.cli(
            "cli.user.create", a.name, "user", "create", a.name, "--domain", primary,
            "--email", email, "--password-stdin", input=password + "\n",
        )  # fmt: skip
        a.pending_password = password
        if self.done(a, rc, "exists", "password"):
            a.reset()
            a.exists, a.password, a.email, a.primary = True, password, email, primary
            a.incarnation += 1
            self.read_uid(a)

    def read_uid(self, a: Account) -> None:
        import json  # noqa: PLC0415

        proc = self.cluster.cli("--json", "user", "show", a.name, check=False)
        if proc.returncode == 0:
            a.uid = json.loads(proc.stdout)["account"]["uid"]
            self.ledger.saw_uid(a, a.uid)

    def update(self, a: Account) -> None:
        email = f"{a.name}+cli{self.rng.randrange(1000)}@example.com"
        notes = f"cli {time.time():.3f}"
        rc = self.cli("cli.user.update", a.name, "user", "update", a.name, "--email", email,
                      "--notes", notes)  # fmt: skip
        if self.done(a, rc, "email", "notes"):
            a.email, a.notes = email, notes

    def suspend_cycle(self, a: Account) -> None:
        verb = "unsuspend" if a.status == "suspended" else "suspend"
        rc = self.cli(f"cli.user.{verb}", a.name, "user", verb, a.name)
        if self.done(a, rc, "status"):
            a.status = "suspended" if verb == "suspend" else "active"

    def password(self, a: Account) -> None:
        password = new_password()
        rc = self.cli("cli.user.password", a.name, "user", "passwd", a.name, "--password-stdin",
                      input=password + "\n")  # fmt: skip
        a.pending_password = password
        if self.done(a, rc, "password"):
            a.password = password

    def delete(self, a: Account) -> None:
        rc = self.cli("cli.user.delete", a.name, "user", "delete", a.name)
        if self.done(a, rc, "exists"):
            a.reset()

    def list(self, a: Account) -> None:
        self.cli("cli.user.list", a.name, "user", "list", "--search", a.name[:4])

    def resync(self, a: Account) -> None:
        import json  # noqa: PLC0415

        proc = self.cluster.cli("--json", "user", "show", a.name, check=False)
        if proc.returncode not in (0, 3):
            time.sleep(0.2)
            return
        docs = json.loads(proc.stdout) if proc.returncode == 0 else None
        if "exists" in a.unsure and docs is not None and not a.exists:
            a.incarnation += 1
        for problem in a.compare(docs):
            self.ledger.violation(f"after a lost answer: {problem}")
        a.adopt(docs)
        if docs is not None and a.uid is not None:
            self.ledger.saw_uid(a, a.uid)
        if "password" in a.unsure:
            # Which password holds is checked at the end (login); take the newest tried.
            a.password = a.pending_password or a.password
            a.unsure.discard("password")
            a.password_unsure = True


def sample_uids(root: Path, ledger: Ledger, stop: threading.Event) -> None:
    """Read passwd now and then: no two lines may share a uid, and a uid a create answered
    with must belong to that account."""
    passwd = root / "etc/passwd"
    while not stop.wait(0.5):
        ledger.uid_samples += 1
        try:
            lines = passwd.read_text().splitlines()
        except OSError:
            continue
        holders: dict[int, str] = {}
        for line in lines:
            fields = line.split(":")
            if len(fields) < 3 or not fields[2].isdigit():
                continue
            uid = int(fields[2])
            if uid in holders and holders[uid] != fields[0]:
                ledger.violation(f"passwd: uid {uid} held by {holders[uid]} and {fields[0]}")
            holders[uid] = fields[0]
            with ledger.lock:
                promised = ledger.uids.get(uid)
            if promised is not None and promised[0] != fields[0]:
                ledger.violation(f"passwd: uid {uid} held by {fields[0]}, given to {promised[0]}")
