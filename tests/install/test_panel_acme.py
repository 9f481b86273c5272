"""The panel's certificate from ACME: `install --hostname H --acme` against Debian's pebble,
HTTP-01 answered by the panel's own port-80 block on the sandbox's real nginx, which then
serves the new certificate on the panel port; a second install leaves it alone."""

from __future__ import annotations

import json
import socket
import ssl
from pathlib import Path

import pytest

from tests.conftest import cli
from tests.hosting.conftest import open_root as open_root  # the fixture
from tests.ssl.pebble import free_port, running_pebble
from tests.ssl.serving import serving

pytestmark = pytest.mark.timeout(300)

HOST = "panel.example.test"


def served_issuer(port: int, cafile: Path) -> str:
    context = ssl.create_default_context(cafile=str(cafile))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=HOST) as tls,
    ):
        cert = tls.getpeercert()
    assert cert is not None
    return str(cert["issuer"])  # ((("organizationName", "Pebble…"),), …)


def test_install_puts_an_acme_certificate_on_the_panel(open_root: Path) -> None:
    http_port, https_port, panel_port = free_port(), free_port(), free_port()
    with running_pebble(open_root.parent / "pebble", http_port) as pebble:
        with serving(
            open_root, http_port, https_port,
            acme_directory=pebble.directory, acme_ca_bundle=pebble.ca_bundle,
        ) as served:  # fmt: skip
            env = {
                "JOPANEL_HTTP_PORT": str(http_port),
                "JOPANEL_HTTPS_PORT": str(https_port),
                "JOPANEL_PANEL_PORT": str(panel_port),
                "JOPANEL_ACME_DIRECTORY": pebble.directory,
                "JOPANEL_ACME_CA_BUNDLE": str(pebble.ca_bundle),
                "JOPANEL_NGINX_RELOAD": json.dumps(served.settings.nginx_reload),
            }
            args = ("--json", "install", "--no-systemd", "--hostname", HOST, "--acme")
            report = json.loads(cli(open_root, *args, env=env).stdout)
            assert f"installed an ACME certificate for {HOST} on the panel" in report["done"]
            cafile = open_root.parent / "pebble-root.pem"
            cafile.write_text(pebble.root_pem())
            served.web.until(HOST, "/", lambda r: r.status_code in (301, 200))
            assert "Pebble" in served_issuer(panel_port, cafile)
            assert (
                f'panel_hostname = "{HOST}"' in (open_root / "etc/jopanel/jopanel.toml").read_text()
            )
            key = open_root / "etc/jopanel/tls/panel.key"
            assert key.stat().st_mode & 0o777 == 0o600
            again = json.loads(cli(open_root, *args, env=env).stdout)
            assert again == {"done": [], "admin_password": None}  # not due: nothing asked
