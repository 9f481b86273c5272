"""The file endpoints over real HTTP, with the real agent over its socket: hostile paths,
links out of the home, a swap race, streaming up and down, limits, ownership."""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from jopanel.settings import Settings, load_settings
from jopanel.system.sandbox import init_root
from tests.api.harness import Api, make_app, running_agent, serving

from .conftest import PASSWORD, SECRET_ETC, SECRET_J2, SECRET_OUT, digest_outside, plant
from .hostile import ALL, LINKED, SYNTAX

UPLOAD_LIMIT = 4 * 1024 * 1024
SECRETS = (SECRET_OUT, SECRET_J2, SECRET_ETC, "root:x:0:0")


@dataclass
class Site:
    api: Api
    root: Path
    settings: Settings

    @property
    def home(self) -> Path:
        return self.root / "home/joko"

    def call(self, method: str, path: str, *, as_: str = "joko", **kwargs: Any) -> httpx.Response:
        return self.api.request(method, f"/api/user/files/{path}", as_=as_, **kwargs)


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    parent = Path(tempfile.mkdtemp(prefix="jopanel-files-"))
    root = parent / "root"
    init_root(load_settings(root))
    agent_settings = load_settings(root)
    settings = load_settings(root, max_upload_bytes=UPLOAD_LIMIT)
    try:
        with running_agent(root, agent_settings):
            app = make_app(settings)
            with serving(app) as url:
                api = Api(url=url, app=app, settings=settings)
                app.state.ctx.staff.create("admin", PASSWORD, "admin")
                api.tokens["admin"] = api.login("admin", PASSWORD)
                for name in ("joko", "joko2"):
                    body = {
                        "username": name,
                        "password": PASSWORD,
                        "contact_email": f"{name}@example.com",
                        "primary_domain": f"{name}.example.com",
                    }
                    response = api.request("POST", "/api/admin/users", json=body, as_="admin")
                    assert response.status_code == 201, response.text
                    api.tokens[name] = api.login(name, PASSWORD)
                plant(root)
                yield Site(api, root, settings)
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def _multipart(name: str, data: bytes, directory: str = "", overwrite: bool = False) -> Any:
    return {
        "files": {"file": (name, data, "application/octet-stream")},
        "data": {"path": directory, "overwrite": "true" if overwrite else "false"},
    }


CALLS: dict[str, Callable[[Site, str], httpx.Response]] = {
    "list": lambda s, p: s.call("GET", "list", params={"path": p}),
    "content": lambda s, p: s.call("GET", "content", params={"path": p}),
    "download": lambda s, p: s.call("GET", "download", params={"path": p}),
    "save": lambda s, p: s.call("PUT", "content", params={"path": p}, content=b"pwned"),
    "upload_dir": lambda s, p: s.call("POST", "upload", **_multipart("up.txt", b"pwned", p)),
    "upload_name": lambda s, p: s.call("POST", "upload", **_multipart(p, b"pwned", "")),
    "mkdir": lambda s, p: s.call("POST", "mkdir", json={"path": p}),
    "move_from": lambda s, p: s.call("POST", "move", json={"source": p, "destination": "mv"}),
    "move_to": lambda s, p: s.call("POST", "move", json={"source": "victim.txt", "destination": p}),
    "copy_from": lambda s, p: s.call("POST", "copy", json={"source": p, "destination": "cp"}),
    "copy_to": lambda s, p: s.call("POST", "copy", json={"source": "victim.txt", "destination": p}),
    "chmod": lambda s, p: s.call("POST", "chmod", json={"path": p, "mode": "0777"}),
    "zip_from": lambda s, p: s.call("POST", "zip", json={"paths": [p], "destination": "z.zip"}),
    "zip_to": lambda s, p: s.call("POST", "zip", json={"paths": ["victim.txt"], "destination": p}),
    "unzip_from": lambda s, p: s.call("POST", "unzip", json={"path": p}),
    "unzip_to": lambda s, p: s.call("POST", "unzip", json={"path": "good.zip", "destination": p}),
    "delete": lambda s, p: s.call("DELETE", "delete", params={"path": p}),
}


def _reset(site: Site, baseline: set[str]) -> None:
    from .conftest import reset_home

    reset_home(site.root, baseline)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("fresh/x.txt", "x")
    (site.home / "good.zip").write_bytes(buf.getvalue())


@pytest.mark.parametrize("endpoint", sorted(CALLS))
def test_hostile_paths_over_http(site: Site, endpoint: str) -> None:
    baseline = {n for n in os.listdir(site.home) if n != "good.zip"}
    before = digest_outside(site.root)
    for path in ALL:
        _reset(site, baseline)
        response = CALLS[endpoint](site, path)
        said = response.text
        assert response.status_code < 500, (endpoint, path, said)
        for secret in SECRETS:
            assert secret not in said, (endpoint, path)
        if endpoint == "upload_name" and response.status_code < 300:
            # httpx escapes some characters of a multipart filename (NUL as %00): what
            # arrives is then a plain name, and the file lands directly in the home.
            assert "/" not in response.json()["path"], (path, said)
        elif path in SYNTAX:
            assert response.status_code == 422, (endpoint, path, response.status_code, said)
        elif path in LINKED:
            assert response.status_code >= 400, (endpoint, path, said)
        assert digest_outside(site.root) == before, (endpoint, path)
    _reset(site, baseline)


@pytest.mark.parametrize(
    "raw",
    [
        "content?path=%2e%2e/joko2/secret.txt",
        "content?path=%2E%2E%2Fjoko2%2Fsecret.txt",
        "content?path=public_html/%2e%2e/%2e%2e/joko2/secret.txt",
        "content?path=%2fetc%2fpasswd",
        "content?path=etc%00/passwd",
        "download?path=..%2f..%2f..%2fetc%2fpasswd",
        "list?path=%2e%2e",
        "delete?path=%2e%2e%2fjoko2",
    ],
)
def test_percent_encoded_dots_are_decoded_then_refused(site: Site, raw: str) -> None:
    method = "DELETE" if raw.startswith("delete") else "GET"
    response = site.call(method, raw)
    assert response.status_code == 422, response.text
    assert SECRET_J2 not in response.text and "root:x:0:0" not in response.text


def test_round_trip_and_ownership(site: Site) -> None:
    uid = (site.home).stat().st_uid
    r = site.call("POST", "mkdir", json={"path": "public_html/rt"})
    assert r.status_code == 201, r.text
    r = site.call("POST", "upload", **_multipart("a.txt", b"hello\n", "public_html/rt"))
    assert r.status_code == 201, r.text
    assert (
        site.call("POST", "upload", **_multipart("a.txt", b"x", "public_html/rt")).status_code
        == 409
    )
    listing = site.call("GET", "list", params={"path": "public_html/rt"}).json()
    assert [e["name"] for e in listing["entries"]] == ["a.txt"]
    assert listing["entries"][0]["mine"] is True
    r = site.call(
        "PUT", "content", params={"path": "public_html/rt/a.txt"}, content="héllo\n".encode()
    )
    assert r.status_code == 200, r.text
    assert (
        site.call("GET", "content", params={"path": "public_html/rt/a.txt"}).json()["content"]
        == "héllo\n"
    )
    r = site.call("GET", "download", params={"path": "public_html/rt/a.txt"})
    assert r.content == "héllo\n".encode()
    assert r.headers["content-disposition"].startswith("attachment;")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert (
        site.call(
            "POST", "chmod", json={"path": "public_html/rt/a.txt", "mode": "0600"}
        ).status_code
        == 200
    )
    assert (
        site.call(
            "POST", "chmod", json={"path": "public_html/rt/a.txt", "mode": "4755"}
        ).status_code
        == 422
    )
    assert (
        site.call(
            "POST", "copy", json={"source": "public_html/rt", "destination": "rt2"}
        ).status_code
        == 201
    )
    assert (
        site.call("POST", "move", json={"source": "rt2", "destination": "rt3"}).status_code == 200
    )
    r = site.call("POST", "zip", json={"paths": ["rt3"], "destination": "rt.zip"})
    assert r.status_code == 201, r.text
    assert site.call("POST", "mkdir", json={"path": "un"}).status_code == 201
    r = site.call("POST", "unzip", json={"path": "rt.zip", "destination": "un"})
    assert r.status_code == 200, r.text
    for rel in ("public_html/rt/a.txt", "rt3/a.txt", "rt.zip", "un/rt3/a.txt"):
        st = (site.home / rel).stat()
        assert (st.st_uid, st.st_gid) == (uid, uid), rel
    assert oct((site.home / "un/rt3/a.txt").stat().st_mode & 0o777) == "0o600"
    for rel in ("rt3", "un", "rt.zip", "public_html/rt"):
        assert site.call("DELETE", "delete", params={"path": rel}).status_code == 204
    assert not (site.home / "rt3").exists()


def test_upload_limit_is_413(site: Site) -> None:
    big = b"x" * (UPLOAD_LIMIT + 1)
    r = site.call("POST", "upload", **_multipart("big.bin", big))
    assert r.status_code == 413
    assert not (site.home / "big.bin").exists()

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        boundary = b"--b0undary\r\n"
        yield boundary + b'Content-Disposition: form-data; name="file"; filename="big2.bin"\r\n\r\n'
        for _ in range(UPLOAD_LIMIT // 65536 + 2):
            yield b"y" * 65536

    headers = {"Content-Type": "multipart/form-data; boundary=b0undary"}
    r = site.call("POST", "upload", content=chunks(), headers=headers)
    assert r.status_code == 413
    assert not (site.home / "big2.bin").exists()
    r = site.call("PUT", "content", params={"path": "t.txt"}, content=b"a" * (2 * 1024 * 1024 + 1))
    assert r.status_code == 413
    assert not (site.home / "t.txt").exists()


def test_streamed_upload_and_download_of_a_larger_file(site: Site) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    assert site.call("POST", "upload", **_multipart("blob.bin", data)).status_code == 201
    with httpx.Client(base_url=site.api.url, timeout=60) as client:
        headers = {"Authorization": f"Bearer {site.api.tokens['joko']}"}
        with client.stream(
            "GET", "/api/user/files/download", params={"path": "blob.bin"}, headers=headers
        ) as r:
            assert r.status_code == 200
            assert int(r.headers["content-length"]) == len(data)
            got = b"".join(r.iter_bytes())
    assert got == data
    site.call("DELETE", "delete", params={"path": "blob.bin"})


def test_accounts_are_separate(site: Site) -> None:
    r = site.call("GET", "content", params={"path": "secret.txt"}, as_="joko2")
    assert r.status_code == 200 and r.json()["content"] == SECRET_J2
    assert site.call("GET", "content", params={"path": "secret.txt"}).status_code == 404
    assert site.call("GET", "content", params={"path": "j2/secret.txt"}).status_code == 422
    assert site.call("GET", "list", params={"path": "j2"}).status_code == 422
    r = site.api.request("GET", "/api/user/files/list", as_="admin")
    assert r.status_code == 403  # staff use login-as, never another account's files directly


def test_swap_race_over_http(site: Site) -> None:
    race, real = site.home / "race", site.home / "race.real"
    uid = site.home.stat().st_uid
    race.mkdir()
    (race / "f.txt").write_text("inner")
    for path in (race, race / "f.txt"):
        os.chown(path, uid, uid)
    (site.root / "outside/f.txt").write_text(SECRET_OUT)
    before = digest_outside(site.root)
    stop = threading.Event()

    def swap() -> None:
        while not stop.is_set():
            os.rename(race, real)
            os.symlink(site.root / "outside", race)
            time.sleep(0.0005)
            os.unlink(race)
            os.rename(real, race)
            time.sleep(0.0005)

    thread = threading.Thread(target=swap, daemon=True)
    thread.start()
    statuses: dict[int, int] = {}
    try:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            for r in (
                site.call("GET", "content", params={"path": "race/f.txt"}),
                site.call("GET", "download", params={"path": "race/f.txt"}),
                site.call("GET", "list", params={"path": "race"}),
                site.call("PUT", "content", params={"path": "race/f.txt"}, content=b"new"),
                site.call("POST", "chmod", json={"path": "race/f.txt", "mode": "0600"}),
                site.call("POST", "upload", **_multipart("n.txt", b"n", "race", True)),
            ):
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                assert SECRET_OUT not in r.text
    finally:
        stop.set()
        thread.join()
    assert statuses.get(200, 0) + statuses.get(201, 0) > 0, statuses
    assert digest_outside(site.root) == before
    shutil.rmtree(race)


def test_refusal_of_a_large_upload_is_its_status_not_a_broken_socket(site: Site) -> None:
    """The agent refuses before reading the body (the name exists): it still reads the
    body away and answers 409, rather than closing on a client that is still sending."""
    data = os.urandom(3 * 1024 * 1024)
    assert site.call("POST", "upload", **_multipart("dup.bin", data)).status_code == 201
    for _ in range(3):
        assert site.call("POST", "upload", **_multipart("dup.bin", data)).status_code == 409
    site.call("DELETE", "delete", params={"path": "dup.bin"})
