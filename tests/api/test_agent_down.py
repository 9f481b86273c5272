"""With the agent stopped, anything that needs the truth on disk answers 503."""

from __future__ import annotations

from pathlib import Path

from jopanel.settings import Settings
from tests.api.conftest import PASSWORD
from tests.api.harness import Api, make_app, running_agent, serving, stop_agent


def test_agent_down_is_503_and_up_again_is_fine(root: Path, settings: Settings) -> None:
    with running_agent(root, settings) as agent:
        app = make_app(settings)
        app.state.ctx.staff.create("admin", PASSWORD, "admin")
        with serving(app) as url:
            api = Api(url=url, app=app, settings=settings)
            api.tokens["admin"] = api.login("admin", PASSWORD)
            body = {
                "username": "joko",
                "password": PASSWORD,
                "contact_email": "joko@example.com",
                "primary_domain": "joko.example.com",
            }
            assert (
                api.request("POST", "/api/admin/users", json=body, as_="admin").status_code == 201
            )
            stop_agent(agent)
            for method, path in [
                ("GET", "/api/admin/users/joko"),
                ("POST", "/api/admin/users/joko/suspend"),
                ("DELETE", "/api/admin/users/joko"),
                ("GET", "/api/admin/packages"),
                ("POST", "/api/admin/reindex"),
                ("GET", "/api/admin/services/status"),  # asked of the agent (service_status)
            ]:
                response = api.request(method, path, as_="admin")
                assert response.status_code == 503, (method, path, response.text)
                assert response.json()["code"] == "agent_down"
            created = api.request(
                "POST", "/api/admin/users", json={**body, "username": "kiki"}, as_="admin"
            )
            assert created.status_code == 503
            # The list is answered from the index, which does not need the agent.
            listed = api.request("GET", "/api/admin/users", as_="admin")
            assert [i["username"] for i in listed.json()["items"]] == ["joko"]
            assert api.request("GET", "/api/health").json()["agent"] == "down"
    with running_agent(root, settings):
        with serving(make_app(settings)) as url:
            again = Api(url=url, app=app, settings=settings)
            token = again.login("admin", PASSWORD)
            response = again.request(
                "GET", "/api/admin/users/joko", headers={"Authorization": f"Bearer {token}"}
            )
            assert response.status_code == 200
