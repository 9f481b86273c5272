"""ACME end to end: Debian's pebble + pebble-challtestsrv, the sandbox's real nginx.

One account (joko.example.com with www and an alias) gets a certificate over HTTP-01
served by nginx, which then serves it for all three names (checked against pebble's
root with curl and with Python's ssl); redirect and HSTS; renewal; a failing order keeps
the site and its certificate and records why; deleting a domain or the account revokes
its certificates at pebble and removes them.
"""

from __future__ import annotations

import json
import stat
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from functools import partial
from pathlib import Path

import pytest

from jopanel.errors import Conflict
from tests.hosting.test_e2e import wait_for
from tests.ssl.pebble import Pebble, free_port, running_pebble, wrong_answers
from tests.ssl.serving import Served, serving

pytestmark = pytest.mark.timeout(300)

NAMES = ["joko.example.com", "www.joko.example.com", "alias.example.org"]


@pytest.fixture
def acme(open_root: Path) -> Iterator[tuple[Served, Pebble, Path]]:
    http_port, https_port = free_port(), free_port()
    with running_pebble(open_root.parent / "pebble", http_port) as pebble:
        with serving(
            open_root, http_port, https_port,
            acme_directory=pebble.directory, acme_ca_bundle=pebble.ca_bundle,
        ) as served:  # fmt: skip
            served.op(
                "create_user", username="joko", password="correct horse 1",
                contact_email="joko@example.com", primary_domain="joko.example.com",
            )  # fmt: skip
            served.op("domain_add", username="joko", domain="alias.example.org", type="alias")
            cafile = open_root.parent / "pebble-root.pem"
            cafile.write_text(pebble.root_pem())
            yield served, pebble, cafile


def domains_json(root: Path) -> dict[str, object]:
    return dict(json.loads((root / "etc/jopanel/users/joko/domains.json").read_text()))


def https_ok(served: Served, host: str, cafile: Path) -> bool:
    return served.curl(host, cafile).returncode == 0


def served_serial(served: Served, host: str, cafile: Path) -> str:
    return str(served.peer_cert(host, cafile)["serialNumber"]).lower().lstrip("0")


def test_issue_serve_redirect_renew_fail_and_revoke(
    acme: tuple[Served, Pebble, Path], request: pytest.FixtureRequest
) -> None:
    served, pebble, cafile = acme
    root = served.root
    stack = ExitStack()
    request.addfinalizer(stack.close)
    assert served.web.until("joko.example.com", "/", lambda r: r.status_code == 200)
    # Before any certificate: HTTP only, and the status says so.
    status = served.op("ssl_status", username="joko").data
    assert status[0]["mode"] == "off" and status[0]["serving"] is False

    issued = served.op("ssl_issue", username="joko", domain="joko.example.com")
    assert issued.changed
    row = issued.data
    assert row["status"] == "active" and row["mode"] == "acme" and row["serving"]
    assert sorted(row["names"]) == sorted(NAMES)
    assert "PRIVATE KEY" not in json.dumps(issued.model_dump())
    tls = domains_json(root)["tls"]["joko.example.com"]  # type: ignore[index]
    assert tls["status"] == "active" and sorted(tls["names"]) == sorted(NAMES)
    assert "Pebble" in tls["issuer"]
    # Keys root-only, outside the home.
    ssl_dir = root / "etc/jopanel/ssl/joko.example.com"
    assert stat.S_IMODE(ssl_dir.stat().st_mode) == 0o700
    key = ssl_dir / "current/key.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and key.stat().st_uid == 0
    assert not list((root / "home/joko").rglob("*.pem"))

    # nginx serves it for every name (after the coalesced reload).
    for host in NAMES:
        wait_for(partial(https_ok, served, host, cafile), f"https {host}")
        assert sorted(served.san(host, cafile)) == sorted(NAMES)
    first_serial = tls["serial"]
    assert served_serial(served, "joko.example.com", cafile) == first_serial
    # HTTP still serves the site (no redirect asked).
    assert served.web.get("joko.example.com").status_code == 200

    # Redirect and HSTS; the ACME location stays on HTTP.
    served.op("ssl_options", username="joko", domain="joko.example.com", redirect=True, hsts=True)
    moved = served.web.until("www.joko.example.com", "/a?b=1", lambda r: r.status_code == 301)
    port = served.settings.https_port
    assert moved.headers["location"] == f"https://www.joko.example.com:{port}/a?b=1"
    (served.settings.acme_webroot / "probe-token").write_text("probe")
    challenge = served.web.get("joko.example.com", "/.well-known/acme-challenge/probe-token")
    assert challenge.status_code == 200 and challenge.text == "probe"
    hsts = served.curl("joko.example.com", cafile)
    assert hsts.returncode == 0
    headers = subprocess.run(
        ["curl", "-sSI", "--cacert", str(cafile), "--resolve",
         f"joko.example.com:{port}:127.0.0.1", f"https://joko.example.com:{port}/"],
        capture_output=True, text=True, check=True,
    ).stdout.lower()  # fmt: skip
    assert "strict-transport-security: max-age=63072000" in headers

    # Renewal: nothing due within 30 days; a wide window renews, with a new serial.
    quiet = served.op("ssl_renew")
    assert not quiet.changed and quiet.data[0]["result"] == "not_due"
    renewed = served.op("ssl_renew", within_days=3650)
    assert renewed.data[0]["result"] == "renewed"
    second_serial = domains_json(root)["tls"]["joko.example.com"]["serial"]  # type: ignore[index]
    assert second_serial != first_serial
    wait_for(lambda: served_serial(served, "joko.example.com", cafile) == second_serial, "new cert")
    assert len([p for p in ssl_dir.iterdir() if p.name.startswith("v-")]) == 1  # pruned

    # A failing order (the name now resolves to a listener of this test's that answers a
    # wrong token): the certificate in service stays, the site stays up, the reason and
    # the next try are recorded.
    liar = stack.enter_context(wrong_answers(served.settings.http_port))
    pebble.set_address("joko.example.com", liar)
    with pytest.raises(Conflict) as failed:
        served.op("ssl_issue", username="joko", domain="joko.example.com")
    assert "the certificate in service stays" in str(failed.value)
    tls = domains_json(root)["tls"]["joko.example.com"]  # type: ignore[index]
    assert tls["status"] == "active" and tls["serial"] == second_serial
    assert tls["failures"] == 1 and tls["next_try"] and "joko.example.com" in tls["last_error"]
    assert served.curl("joko.example.com", cafile).returncode == 0
    assert served_serial(served, "joko.example.com", cafile) == second_serial
    # Backoff: no new order before next_try, unless forced; renew waits too.
    with pytest.raises(Conflict, match="next try after"):
        served.op("ssl_issue", username="joko", domain="joko.example.com")
    waiting = served.op("ssl_renew", within_days=3650)
    assert waiting.data[0]["result"] == "waiting"

    # A site whose first order fails stays on HTTP, status failed.
    served.op("domain_add", username="joko", domain="broken.joko.example.com", type="subdomain")
    pebble.set_address("broken.joko.example.com", liar)
    with pytest.raises(Conflict, match="no certificate for broken.joko.example.com"):
        served.op("ssl_issue", username="joko", domain="broken.joko.example.com")
    broken = served.op("ssl_status", username="joko", domain="broken.joko.example.com").data[0]
    assert broken["status"] == "failed" and not broken["serving"] and broken["last_error"]
    assert served.web.until("broken.joko.example.com", "/", lambda r: r.status_code == 200)

    # Removing a domain revokes and removes its certificate.
    served.op("domain_add", username="joko", domain="shop.example.org")
    shop = served.op("ssl_issue", username="joko", domain="shop.example.org").data
    shop_serial = domains_json(root)["tls"]["shop.example.org"]["serial"]  # type: ignore[index]
    assert sorted(shop["names"]) == ["shop.example.org", "www.shop.example.org"]
    assert pebble.cert_status(shop_serial) == "Valid"
    served.op("domain_remove", username="joko", domain="shop.example.org")
    assert pebble.cert_status(shop_serial) == "Revoked"
    assert not (root / "etc/jopanel/ssl/shop.example.org").exists()
    assert "shop.example.org" not in domains_json(root)["tls"]  # type: ignore[operator]

    # Deleting the account revokes and removes the rest.
    served.op("delete_user", username="joko")
    assert pebble.cert_status(second_serial) == "Revoked"
    assert not (root / "etc/jopanel/ssl/joko.example.com").exists()
