"""Logs: the agent and the API write one JSON object per line on stderr, and the request
id ties an API request to the agent op it caused; the CLI reports a repair as progress."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx

from tests.conftest import JOPANEL, cli
from tests.install.test_install import free_port, stop, wait_for

PASSWORD = "log-Test-pass-123"


def json_lines(text: str) -> list[dict[str, object]]:
    entries = [json.loads(line) for line in text.splitlines() if line.strip()]
    for entry in entries:
        assert {"ts", "level", "logger", "msg"} <= set(entry), entry
    return entries


def test_agent_and_api_log_json_lines_tied_by_request_id(tmp_path: Path) -> None:
    root = tmp_path / "root"
    cli(root, "init")
    cli(root, "admin", "create", "boss", "--password-stdin", input=f"{PASSWORD}\n")
    agent_log, api_log = tmp_path / "agent.log", tmp_path / "api.log"
    with agent_log.open("w") as agent_err, api_log.open("w") as api_err:
        agent = subprocess.Popen(
            [JOPANEL, "--root", str(root), "agent"], stderr=agent_err, text=True
        )
        port = free_port()
        api = subprocess.Popen(
            [JOPANEL, "--root", str(root), "serve", "--listen", f"127.0.0.1:{port}"],
            stderr=api_err,
            text=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for((root / "run/jopanel/agent.sock").is_socket, "agent", agent)

            def up() -> bool:
                try:
                    return httpx.get(f"{url}/api/health", timeout=2).status_code == 200
                except httpx.HTTPError:
                    return False

            wait_for(up, "api", api)
            token = httpx.post(
                f"{url}/api/auth/login", json={"username": "boss", "password": PASSWORD}
            ).json()["access_token"]
            response = httpx.get(
                f"{url}/api/admin/services/status", headers={"Authorization": f"Bearer {token}"}
            )
            assert response.status_code == 200
        finally:
            stop(api)
            stop(agent)
    api_entries = json_lines(api_log.read_text())
    agent_entries = json_lines(agent_log.read_text())
    (access,) = [
        e for e in api_entries
        if e["logger"] == "uvicorn.access" and "/api/admin/services/status" in str(e["msg"])
    ]  # fmt: skip
    (op_line,) = [e for e in agent_entries if e.get("op") == "service_status"]
    assert access["request_id"] == op_line["request_id"]
    assert op_line["actor"] == "boss" and op_line["result"] == "ok"
    assert op_line["msg"] == "op service_status ok" and op_line["level"] == "info"


def test_a_repair_reads_as_progress(tmp_path: Path) -> None:
    root = tmp_path / "root"
    cli(root, "init")
    cli(root, "user", "create", "joko", "--domain", "joko.example.com",
        "--email", "joko@example.com", "--password-stdin", input="correct horse 1\n")  # fmt: skip
    docroot = root / "home/joko/public_html"
    docroot.rename(root / "home/joko/old_html")
    docroot.symlink_to("/etc")
    proc = cli(root, "reconcile")
    assert proc.stderr == "  joko: repaired public_html (was a symlink: removed)\n"
    assert "repaired" in proc.stdout
    assert docroot.is_dir() and not docroot.is_symlink()
