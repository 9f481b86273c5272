"""The OpenAPI document is complete; /api/docs works offline; `admin create` and `demo`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from jopanel.auth.passwords import verify_login_password as verify_password
from jopanel.db.models import PanelUser
from jopanel.db.session import init_db, make_sessionmaker, session_scope
from jopanel.settings import Settings
from tests.api.harness import Api
from tests.conftest import JOPANEL, cli


def _component(doc: dict[str, Any], schema: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return name, doc["components"]["schemas"][name]
    if schema.get("type") == "array":
        return _component(doc, schema["items"])
    return None, schema


def test_every_operation_has_models_and_examples(api: Api) -> None:
    doc = api.request("GET", "/api/openapi.json").json()
    problems = []
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            if not operation.get("summary"):
                problems.append(f"{where}: no summary")
            body = operation.get("requestBody")
            if body:
                name, schema = _component(doc, body["content"]["application/json"]["schema"])
                if name is None or "examples" not in schema:
                    problems.append(f"{where}: request body {name} has no model with examples")
            for status, response in operation["responses"].items():
                if status == "204":
                    continue
                content = response.get("content", {}).get("application/json", {}).get("schema")
                if content is None:
                    problems.append(f"{where}: {status} has no schema")
                    continue
                name, schema = _component(doc, content)
                if name is None or "examples" not in schema:
                    problems.append(f"{where}: {status} {name} has no model with examples")
            if "422" in operation["responses"]:
                assert operation["responses"]["422"]["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/ErrorOut"
                }
    assert problems == []


def test_docs_are_served_from_the_package(api: Api) -> None:
    page = api.request("GET", "/api/docs")
    assert page.status_code == 200
    assert "/api/docs/static/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower()
    script = api.request("GET", "/api/docs/static/swagger-ui-bundle.js")
    assert script.status_code == 200 and len(script.content) > 100_000


def test_admin_create_reads_the_password_from_stdin(root: Path, settings: Settings) -> None:
    cli(root, "admin", "create", "chief", "--password-stdin", input="a long admin password\n")
    cli(
        root,
        "admin",
        "create",
        "seller",
        "--reseller",
        "--password-stdin",
        input="another long one\n",
    )
    duplicate = cli(
        root, "admin", "create", "chief", "--password-stdin", input="whatever long\n", check=False
    )
    assert duplicate.returncode == 4 and "already exists" in duplicate.stderr
    short = cli(root, "admin", "create", "tiny", "--password-stdin", input="short\n", check=False)
    assert short.returncode == 2
    engine = init_db(settings)
    with session_scope(make_sessionmaker(engine)) as db:
        rows = {u.username: u for u in db.query(PanelUser).all()}
    engine.dispose()
    assert {name: row.role for name, row in rows.items()} == {
        "chief": "admin",
        "seller": "reseller",
    }
    assert verify_password("a long admin password", rows["chief"].password_hash) == (True, False)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_demo_prints_the_admin_login_once_and_serves(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    port = _free_port()
    proc = subprocess.Popen(
        [JOPANEL, "--root", str(root), "demo", "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("JOPANEL_")},
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while not any(line.startswith("sample account login") for line in lines):
            assert time.monotonic() < deadline and proc.poll() is None, lines
            lines.append(proc.stdout.readline().strip())
        admin_line = next(line for line in lines if line.startswith("admin login:"))
        password = admin_line.split("/", 1)[1].split()[0]
        url = f"http://127.0.0.1:{port}"
        while True:
            try:
                login = httpx.post(
                    f"{url}/api/auth/login", json={"username": "admin", "password": password}
                )
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert login.status_code == 200
        token = login.json()["access_token"]
        users = httpx.get(
            f"{url}/api/admin/users", headers={"Authorization": f"Bearer {token}"}
        ).json()
        assert [u["username"] for u in users["items"]] == ["demo"]
        assert (root / "home/demo").is_dir()  # under the sandbox root, never /home
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
