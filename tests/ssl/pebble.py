"""Debian's pebble (ACME test CA) and pebble-challtestsrv (its DNS) on loopback ports.

challtestsrv answers 127.0.0.1 for every name (and no AAAA), pebble resolves through it
and validates HTTP-01 on the sandbox nginx's HTTP port. Pebble's own TLS certificate is
made with trustme; JoPanel trusts it through ACME_CA_BUNDLE. PEBBLE_VA_NOSLEEP removes
the validation delay; PEBBLE_VA_ALWAYS_VALID is not set: every challenge is really
fetched from nginx.
"""

from __future__ import annotations

import http.server
import json
import os
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import trustme


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{what} exited: {process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Pebble:
    directory: str
    ca_bundle: Path
    management: str
    challtestsrv: str

    def client(self) -> httpx.Client:
        return httpx.Client(verify=ssl.create_default_context(cafile=str(self.ca_bundle)))

    def root_pem(self) -> str:
        """The root that signs pebble's certificates (new for every pebble run)."""
        with self.client() as c:
            return c.get(f"{self.management}/roots/0").text

    def cert_status(self, serial_hex: str) -> str:
        with self.client() as c:
            reply = c.get(f"{self.management}/cert-status-by-serial/{serial_hex}")
        return str(reply.json()["Status"])

    def set_address(self, host: str, address: str) -> None:
        """Make the mock DNS answer `address` for `host` (see `wrong_answers`)."""
        httpx.post(f"{self.challtestsrv}/add-a", json={"host": host, "addresses": [address]})


class _WrongToken(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        body = b"not-the-key-authorization"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@contextmanager
def wrong_answers(http_port: int) -> Iterator[str]:
    """A loopback address whose HTTP-01 port this test holds and answers every challenge
    with a wrong key authorization: an order validated there fails, whatever else runs on
    the machine (an address nobody listens on is not a promise a shared machine keeps)."""
    for last in range(2, 255):
        address = f"127.0.0.{last}"
        try:
            server = http.server.ThreadingHTTPServer((address, http_port), _WrongToken)
        except OSError:
            continue  # someone holds this address's port (or all addresses'): the next
        break
    else:
        raise AssertionError(f"no loopback address has port {http_port} free")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield address
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextmanager
def running_pebble(workdir: Path, http_port: int) -> Iterator[Pebble]:
    workdir.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    server = ca.issue_cert("localhost", "127.0.0.1")
    cert, key, bundle = workdir / "pebble.pem", workdir / "pebble.key", workdir / "ca.pem"
    server.cert_chain_pems[0].write_to_path(str(cert))
    server.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(bundle))
    acme, mgmt, tls, dns, dns_mgmt = (free_port() for _ in range(5))
    config = {
        "pebble": {
            "listenAddress": f"127.0.0.1:{acme}",
            "managementListenAddress": f"127.0.0.1:{mgmt}",
            "certificate": str(cert),
            "privateKey": str(key),
            "httpPort": http_port,
            "tlsPort": tls,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }
    }
    (workdir / "pebble.json").write_text(json.dumps(config))
    env = {
        **os.environ,
        "PEBBLE_VA_NOSLEEP": "1",
        "PEBBLE_WFE_NONCEREJECT": "0",
        "PEBBLE_AUTHZREUSE": "0",
    }
    env.pop("PEBBLE_VA_ALWAYS_VALID", None)
    log = (workdir / "challtestsrv.log").open("wb")
    dns_server = subprocess.Popen(
        ["pebble-challtestsrv", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
         "-dns01", f"127.0.0.1:{dns}", "-http01", "", "-https01", "", "-tlsalpn01", "",
         "-management", f"127.0.0.1:{dns_mgmt}"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    pebble_log = (workdir / "pebble.log").open("wb")
    pebble = subprocess.Popen(
        ["pebble", "-config", str(workdir / "pebble.json"), "-dnsserver", f"127.0.0.1:{dns}"],
        stdout=pebble_log, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    try:
        _wait_port(dns_mgmt, dns_server, "pebble-challtestsrv")
        _wait_port(acme, pebble, "pebble")
        _wait_port(mgmt, pebble, "pebble management")
        yield Pebble(
            directory=f"https://127.0.0.1:{acme}/dir",
            ca_bundle=bundle,
            management=f"https://127.0.0.1:{mgmt}",
            challtestsrv=f"http://127.0.0.1:{dns_mgmt}",
        )
    finally:
        for process in (pebble, dns_server):
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()
        pebble_log.close()
