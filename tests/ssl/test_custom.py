"""Custom certificates through the ops, the CLI and the API; a good one served by nginx.

The refusals themselves are in test_certcheck.py; here: a refused upload writes nothing,
a good one is served by the real nginx for every name of the site, turned off it is gone.
"""

from __future__ import annotations

import json
import shutil
import ssl
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
import trustme

from jopanel.errors import ValidationFailed
from tests.api.harness import Api, admin_and_accounts
from tests.conftest import cli
from tests.hosting.test_e2e import wait_for
from tests.ssl.pebble import free_port
from tests.ssl.serving import Served, serving

NAMES = ["joko.example.com", "www.joko.example.com", "alias.example.org"]
PASSWORD = "correct horse battery"


def issue(ca: trustme.CA, *names: str) -> dict[str, str]:
    cert = ca.issue_cert(*names)
    pems = [b.bytes().decode() for b in cert.cert_chain_pems]
    return {
        "certificate": pems[0],
        "chain": "".join(pems[1:]),
        "key": cert.private_key_pem.bytes().decode(),
    }


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def web(open_root: Path) -> Iterator[Served]:
    with serving(open_root, free_port(), free_port()) as served:
        served.op(
            "create_user", username="joko", password="correct horse 1",
            contact_email="joko@example.com", primary_domain="joko.example.com",
        )  # fmt: skip
        served.op("domain_add", username="joko", domain="alias.example.org", type="alias")
        yield served


def handshake_refused(served: Served, host: str) -> bool:
    try:
        served.peer_cert(host, Path("/dev/null"))
    except (ssl.SSLError, OSError):
        return True
    return False


def https_ok(served: Served, host: str, cafile: Path) -> bool:
    return served.curl(host, cafile).returncode == 0


def test_a_good_upload_is_served_and_off_removes_it(
    web: Served, ca: trustme.CA, tmp_path: Path
) -> None:
    root = web.root
    cafile = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    before = web.op("ssl_status", username="joko").data
    # Refused uploads write nothing: no revision, no files.
    revision = web.ctx.store.read("joko").revision
    wrong = issue(ca, "joko.example.com")
    with pytest.raises(ValidationFailed, match="does not cover www.joko.example.com"):
        web.op("ssl_upload", username="joko", domain="joko.example.com", **wrong)
    other = issue(ca, *NAMES)
    with pytest.raises(ValidationFailed, match="the key does not match"):
        web.op("ssl_upload", username="joko", domain="joko.example.com",
               **{**issue(ca, *NAMES), "key": other["key"]})  # fmt: skip
    assert web.ctx.store.read("joko").revision == revision
    assert not (root / "etc/jopanel/ssl/joko.example.com").exists()
    assert web.op("ssl_status", username="joko").data == before
    assert handshake_refused(web, "joko.example.com")  # no certificate of anyone's

    done = web.op("ssl_upload", username="joko", domain="joko.example.com", redirect=True,
                  **issue(ca, *NAMES))  # fmt: skip
    row = done.data
    assert row["mode"] == "custom" and row["status"] == "active" and row["serving"]
    assert "PRIVATE KEY" not in json.dumps(done.model_dump())
    for host in NAMES:
        wait_for(partial(https_ok, web, host, cafile), f"https {host}")
        assert sorted(web.san(host, cafile)) == sorted(NAMES)
    moved = web.web.until("alias.example.org", "/x", lambda r: r.status_code == 301)
    assert moved.headers["location"] == f"https://alias.example.org:{web.settings.https_port}/x"
    vhost = (root / "etc/nginx/sites-available/jopanel-joko.conf").read_text()
    assert "ssl http2;" in vhost and "jopanel-tls.conf" in vhost
    tls_conf = (root / "etc/nginx/snippets/jopanel-tls.conf").read_text()
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in tls_conf

    # The ACME location is JoPanel's: the account's own file at that path is never served,
    # and a suspended account still answers it (HTTP, not redirected).
    home = root / "home/joko/public_html/.well-known/acme-challenge"
    home.mkdir(parents=True)
    (home / "tok").write_text("the account's")
    (web.settings.acme_webroot / "tok").write_text("jopanel's")
    assert web.web.get("joko.example.com", "/.well-known/acme-challenge/tok").text == "jopanel's"
    web.op("ssl_options", username="joko", domain="joko.example.com", redirect=False)
    web.op("suspend_user", username="joko")
    wait_for(lambda: web.web.get("joko.example.com", "/").status_code == 503, "suspended")
    assert web.web.get("joko.example.com", "/.well-known/acme-challenge/tok").text == "jopanel's"
    web.op("unsuspend_user", username="joko")

    off = web.op("ssl_off", username="joko", domain="joko.example.com")
    assert off.data["mode"] == "off" and not off.data["serving"]
    assert not (root / "etc/jopanel/ssl/joko.example.com").exists()
    wait_for(lambda: handshake_refused(web, "joko.example.com"), "https off")
    assert web.web.until("joko.example.com", "/", lambda r: r.status_code == 200)


def test_cli_upload_status_off(root: Path, ca: trustme.CA, tmp_path: Path) -> None:
    cli(root, "user", "create", "joko", "--domain", "joko.example.com",
        "--email", "joko@example.com", input="correct horse 1\ncorrect horse 1\n")  # fmt: skip
    good = issue(ca, "joko.example.com", "www.joko.example.com")
    for name, text in good.items():
        (tmp_path / f"{name}.pem").write_text(text)
    (tmp_path / "other.pem").write_text(issue(ca, "joko.example.com")["key"])
    cert = str(tmp_path / "certificate.pem")
    refused = cli(root, "ssl", "upload", "joko.example.com", "--cert", cert,
                  "--key", str(tmp_path / "other.pem"), check=False)  # fmt: skip
    assert refused.returncode == 2
    assert refused.stderr.strip().count("\n") == 0
    assert "the key does not match the certificate" in refused.stderr
    cli(root, "ssl", "upload", "joko.example.com", "--cert", str(tmp_path / "certificate.pem"),
        "--chain", str(tmp_path / "chain.pem"), "--key", str(tmp_path / "key.pem"))  # fmt: skip
    rows = json.loads(cli(root, "--json", "ssl", "status").stdout)
    assert rows[0]["domain"] == "joko.example.com" and rows[0]["mode"] == "custom"
    assert rows[0]["status"] == "active"
    one = json.loads(cli(root, "--json", "ssl", "status", "joko.example.com").stdout)
    assert one[0]["names"] == ["joko.example.com", "www.joko.example.com"]
    # A sandbox without HTTPS_PORT serves HTTP only (docs/ssl.md).
    assert rows[0]["serving"] is False
    assert stat_mode(root / "etc/jopanel/ssl/joko.example.com/current/key.pem") == 0o600
    # A certificate whose account is gone (copied in, or a delete stopped half-way):
    # reconcile removes it and leaves joko's alone.
    ssl_dir = root / "etc/jopanel/ssl"
    shutil.copytree(ssl_dir / "joko.example.com", ssl_dir / "old.example.net", symlinks=True)
    meta = ssl_dir / "old.example.net/current/meta.json"
    meta.write_text(meta.read_text().replace('"owner": "joko"', '"owner": "ghost"'))
    line = "certificate: revoke and remove old.example.net (no such account ghost)"
    assert line in json.loads(cli(root, "--json", "reconcile", "--dry-run").stdout)["plan"]
    cli(root, "reconcile")
    assert not (ssl_dir / "old.example.net").exists()
    assert (ssl_dir / "joko.example.com/current/key.pem").exists()
    renew = json.loads(cli(root, "--json", "ssl", "renew").stdout)
    assert renew == []  # custom certificates are not renewed by ACME
    cli(root, "ssl", "off", "joko.example.com")
    assert not (root / "etc/jopanel/ssl/joko.example.com").exists()
    missing = cli(root, "ssl", "issue", "nobody.example.net", check=False)
    assert missing.returncode == 3


def stat_mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    root = tmp_path_factory.mktemp("ssl-api") / "root"
    with admin_and_accounts(root, PASSWORD) as server:
        yield server


def test_api_user_and_admin_routes(api: Api, ca: trustme.CA) -> None:
    names = ["anna.example.com", "www.anna.example.com"]
    bad = api.request("PUT", "/api/user/ssl/anna.example.com/certificate", as_="anna",
                      json=issue(ca, "anna.example.com"))  # fmt: skip
    assert bad.status_code == 422 and "does not cover www.anna.example.com" in bad.text
    # bert cannot put a certificate on anna's site.
    other = api.request("PUT", "/api/user/ssl/anna.example.com/certificate", as_="bert",
                        json=issue(ca, *names))  # fmt: skip
    assert other.status_code == 404
    good = api.request("PUT", "/api/user/ssl/anna.example.com/certificate", as_="anna",
                       json={**issue(ca, *names), "hsts": True})  # fmt: skip
    assert good.status_code == 200, good.text
    assert good.json()["mode"] == "custom" and good.json()["hsts"] is True
    assert "PRIVATE KEY" not in good.text
    listed = api.request("GET", "/api/user/ssl", as_="anna").json()
    assert [r["domain"] for r in listed] == ["anna.example.com"]
    assert "PRIVATE KEY" not in json.dumps(listed)
    assert api.request("GET", "/api/user/ssl", as_="bert").json()[0]["mode"] == "off"
    patched = api.request("PATCH", "/api/user/ssl/anna.example.com", as_="anna",
                          json={"redirect": True})  # fmt: skip
    assert patched.json()["redirect"] is True and patched.json()["hsts"] is True
    extra = api.request("PATCH", "/api/user/ssl/anna.example.com", as_="anna",
                        json={"force": True})  # fmt: skip
    assert extra.status_code == 422
    admin = api.request("GET", "/api/admin/users/anna/ssl", as_="admin").json()
    assert admin[0]["mode"] == "custom"
    assert api.request("GET", "/api/admin/users/anna/ssl", as_="anna").status_code == 403
    renew = api.request("POST", "/api/admin/ssl/renew", as_="admin", json={})
    assert renew.status_code == 200 and renew.json() == []
    gone = api.request("DELETE", "/api/user/ssl/anna.example.com", as_="anna")
    assert gone.status_code == 200 and gone.json()["mode"] == "off"
    assert not (api.settings.root / "etc/jopanel/ssl/anna.example.com").exists()
