"""Request bodies over the limit get 413 over real HTTP, without being buffered."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx

from tests.api.conftest import CAST, PASSWORD
from tests.api.harness import Api

MIB = 1024 * 1024
LOGIN = "/api/auth/login"
UPLOAD = "/api/user/files/upload"


def _chunks(total: int, size: int = 64 * 1024, sent: list[int] | None = None) -> Iterator[bytes]:
    """`total` bytes in `size` chunks (no Content-Length: httpx sends them chunked)."""
    done = 0
    while done < total:
        piece = b"x" * min(size, total - done)
        done += len(piece)
        if sent is not None:
            sent[0] = done
        yield piece


def _raw(api: Api, head: str, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    """Send only the request head (no body) and read the whole answer."""
    url = urlsplit(api.url)
    assert url.hostname and url.port
    with socket.create_connection((url.hostname, url.port), timeout=timeout) as sock:
        sock.sendall(head.encode("latin-1"))
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, f"closed before an answer: {data!r}"
            data += chunk
        header_blob, _, body = data.partition(b"\r\n\r\n")
        lines = header_blob.decode("latin-1").split("\r\n")
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])
        }
        while len(body) < int(headers.get("content-length", "0")):
            chunk = sock.recv(65536)
            assert chunk, "closed in the middle of the answer"
            body += chunk
    return int(lines[0].split()[1]), headers, body


def _head(path: str, length: int) -> str:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    )


def _assert_413(response: httpx.Response) -> None:
    assert response.status_code == 413, response.text
    body = response.json()
    assert "larger than" in body["detail"]
    assert body["code"] == "too_large"


def _login_works(api: Api) -> None:
    name, _role = CAST["admin"]
    assert api.login(name, PASSWORD)


def test_a_2_mib_login_body_is_refused(api: Api) -> None:
    padding = "p" * (2 * MIB)
    body = json.dumps({"username": "admin", "password": padding}).encode()

    response = api.request(
        "POST", LOGIN, content=body, headers={"Content-Type": "application/json"}
    )

    _assert_413(response)
    assert response.headers["connection"] == "close"
    _login_works(api)


def test_a_chunked_2_mib_body_is_refused(api: Api) -> None:
    response = api.request(
        "POST", LOGIN, content=_chunks(2 * MIB), headers={"Content-Type": "application/json"}
    )

    _assert_413(response)
    _login_works(api)


def test_a_large_chunked_body_is_cut_off_near_the_limit(api: Api) -> None:
    """64 MiB streamed: the server answers and hangs up long before the client is done."""
    sent = [0]
    with httpx.Client(base_url=api.url, timeout=30) as client:
        try:
            response = client.post(
                LOGIN,
                content=_chunks(64 * MIB, sent=sent),
                headers={"Content-Type": "application/json"},
            )
        except httpx.TransportError:
            response = None  # the server closed while we were still writing: also a refusal
    if response is not None:
        _assert_413(response)
    # Socket buffers hold a few MiB at most; the rest of the 64 MiB was never asked for.
    assert sent[0] < 32 * MIB, sent[0]
    _login_works(api)


def test_a_declared_length_over_the_limit_is_answered_before_any_body(api: Api) -> None:
    status, headers, body = _raw(api, _head(LOGIN, 2 * MIB))

    assert status == 413
    assert headers["connection"] == "close"
    assert "larger than" in json.loads(body)["detail"]
    _login_works(api)
    # Refused before any route ran, it still has its audit row.
    audit = api.request(
        "GET", "/api/admin/audit-logs", params={"action": f"POST {LOGIN}"}, as_="admin"
    )
    assert audit.status_code == 200, audit.text
    assert any(row["detail"].startswith("413") for row in audit.json()["items"])


def test_a_body_at_the_limit_is_not_refused(api: Api) -> None:
    name, _role = CAST["admin"]
    text = json.dumps({"username": name, "password": PASSWORD})
    body = text[:-1] + " " * (MIB - len(text)) + "}"
    assert len(body) == MIB

    response = api.request(
        "POST", LOGIN, content=body.encode(), headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 200, response.text


def test_uploads_have_their_own_larger_limit(api: Api) -> None:
    limit = api.settings.max_upload_bytes
    assert limit > api.settings.max_body_bytes == MIB

    # 2 MiB is fine for an upload (whatever the route then says, it is not a 413) ...
    status, _headers, _body = _raw(api, _head(UPLOAD, 2 * MIB))
    assert status != 413
    # ... and past the upload limit it is refused at once.
    status, _headers, body = _raw(api, _head(UPLOAD, limit + 1))
    assert status == 413
    assert str(limit) in json.loads(body)["detail"]
    _login_works(api)
