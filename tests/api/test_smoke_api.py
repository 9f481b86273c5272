from __future__ import annotations

from tests.api.conftest import ACCOUNT_A
from tests.api.harness import Api


def test_admin_lists_accounts(api: Api) -> None:
    response = api.request("GET", "/api/admin/users", as_="admin")
    assert response.status_code == 200, response.text
    names = [i["username"] for i in response.json()["items"]]
    assert ACCOUNT_A in names
