"""SSH mode through the API (staff only; a shell is an admin's grant) and the CLI; the
generated Match block is read back through the real `sshd -T`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jopanel.agent.context import AgentContext
from jopanel.settings import load_settings
from jopanel.system.sandbox import init_root
from jopanel.system.sshd import Sshd
from tests.api.harness import Api, make_app, running_agent, serving
from tests.conftest import cli

PASSWORD = "correct horse battery"
MATCH = "etc/ssh/sshd_config.d/jopanel-{}.conf"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    root = tmp_path_factory.mktemp("ssh-mode") / "root"
    init_root(load_settings(root))
    settings = load_settings(root)
    with running_agent(root, settings):
        app = make_app(settings)
        with serving(app) as url:
            server = Api(url=url, app=app, settings=settings)
            for name, role in (("admin", "admin"), ("resone", "reseller"), ("restwo", "reseller")):
                app.state.ctx.staff.create(name, PASSWORD, role)
                server.tokens[name] = server.login(name, PASSWORD)
            body = {
                "username": "anna",
                "password": PASSWORD,
                "contact_email": "anna@example.com",
                "primary_domain": "anna.example.com",
                "owner": "resone",
            }
            created = server.request("POST", "/api/admin/users", json=body, as_="admin")
            assert created.status_code == 201, created.text
            server.tokens["anna"] = server.login("anna", PASSWORD)
            yield server


def effective(api: Api, user: str = "anna") -> dict[str, str]:
    sshd = Sshd(api.settings, AgentContext(api.settings).runner)
    return sshd.effective(user)


def match_block(api: Api) -> str:
    return api.settings.path(MATCH.format("anna")).read_text()


def put(api: Api, as_: str, body: dict[str, object], user: str = "anna") -> int:
    return api.request("PUT", f"/api/admin/users/{user}/ssh", as_=as_, json=body).status_code


def test_admin_grants_a_shell_and_sshd_applies_it(api: Api) -> None:
    assert effective(api)["chrootdirectory"] == f"{api.settings.root}/home"
    response = api.request(
        "PUT",
        "/api/admin/users/anna/ssh",
        as_="admin",
        json={"mode": "shell", "allow_agent_forwarding": True},
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "mode": "shell",
        "enabled": True,
        "allow_port_forwarding": False,
        "allow_agent_forwarding": True,
        "allow_x11_forwarding": False,
    }
    shell = effective(api)
    assert (shell["chrootdirectory"], shell["forcecommand"]) == ("none", "none")
    assert (shell["allowagentforwarding"], shell["allowtcpforwarding"]) == ("yes", "no")
    assert put(api, "admin", {"mode": "sftp_chroot"}) == 200
    assert effective(api)["forcecommand"] == "internal-sftp -d /anna"


def test_who_may_set_which_mode(api: Api) -> None:
    before = match_block(api)
    # The account itself may not; another reseller does not see it; the owner may not
    # grant a shell or forwarding; bad values are 422; nothing changes for any of them.
    assert put(api, "anna", {"mode": "shell"}) == 403
    assert put(api, "restwo", {"mode": "disabled"}) == 404
    assert put(api, "resone", {"mode": "shell"}) == 403
    assert put(api, "resone", {"mode": "sftp_chroot", "allow_port_forwarding": True}) == 403
    assert put(api, "admin", {"mode": "root"}) == 422
    assert put(api, "admin", {"mode": "shell", "force_command": "/bin/sh"}) == 422
    assert put(api, "admin", {"mode": "shell"}, user="nosuch") == 404
    assert match_block(api) == before
    # The owning reseller may turn SSH off and back to SFTP.
    assert put(api, "resone", {"mode": "disabled"}) == 200
    assert effective(api)["denyusers"] == "anna"
    assert put(api, "resone", {"mode": "sftp_chroot"}) == 200
    assert match_block(api) == before


def test_cli_ssh_mode(root: Path) -> None:
    cli(root, "user", "create", "joko", "--domain", "joko.example.com", "--email", "j@example.com")
    match = root / MATCH.format("joko")
    cli(root, "user", "ssh-mode", "joko", "shell", "--port-forwarding")
    text = match.read_text()
    assert "ChrootDirectory" not in text and "    AllowTcpForwarding yes\n" in text
    cli(root, "user", "ssh-mode", "joko", "disabled")
    assert "    DenyUsers joko\n" in match.read_text()
    bad = cli(root, "user", "ssh-mode", "joko", "root", check=False)
    assert bad.returncode == 2 and bad.stderr.startswith("jopanel: ")
    cli(root, "user", "ssh-mode", "joko", "sftp_chroot")
    assert "ForceCommand internal-sftp -d /joko" in match.read_text()
