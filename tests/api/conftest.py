"""One agent, one API and a cast of principals shared by the API tests of a session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jopanel.settings import Settings, load_settings
from jopanel.system.sandbox import init_root
from tests.api.harness import Api, make_app, running_agent, serving

PASSWORD = "correct horse battery"
# account A belongs to reseller r1, account B to reseller r2.
CAST = {
    "admin": ("admin", "admin"),
    "reseller": ("resone", "reseller"),
    "other_reseller": ("restwo", "reseller"),
}
ACCOUNT_A = "anna"
ACCOUNT_B = "bert"


def create_account(api: Api, name: str, owner: str, as_: str = "admin") -> None:
    body = {
        "username": name,
        "password": PASSWORD,
        "contact_email": f"{name}@example.com",
        "primary_domain": f"{name}.example.com",
        "owner": owner,
    }
    response = api.request("POST", "/api/admin/users", json=body, as_=as_)
    assert response.status_code == 201, response.text


@pytest.fixture(scope="session")
def api_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("api") / "root"
    init_root(load_settings(root))
    return root


@pytest.fixture(scope="session")
def api_settings(api_root: Path) -> Settings:
    return load_settings(api_root)


@pytest.fixture(scope="session")
def api(api_root: Path, api_settings: Settings) -> Iterator[Api]:
    """The API with logged-in tokens for every role of the permission matrix."""
    with running_agent(api_root, api_settings):
        app = make_app(api_settings)
        with serving(app) as url:
            server = Api(url=url, app=app, settings=api_settings)
            for key, (name, role) in CAST.items():
                app.state.ctx.staff.create(name, PASSWORD, role)
                server.tokens[key] = server.login(name, PASSWORD)
            create_account(server, ACCOUNT_A, CAST["reseller"][0])
            create_account(server, ACCOUNT_B, CAST["other_reseller"][0])
            server.tokens["account_a"] = server.login(ACCOUNT_A, PASSWORD)
            server.tokens["account_b"] = server.login(ACCOUNT_B, PASSWORD)
            yield server
