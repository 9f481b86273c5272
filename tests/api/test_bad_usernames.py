"""The API refuses the usernames tests/test_bad_usernames.py lists, writing nothing."""

from __future__ import annotations

import pytest

from tests.api.conftest import CAST, PASSWORD
from tests.api.harness import Api
from tests.test_bad_usernames import BAD_NAMES, passwd_names, snapshot


@pytest.mark.parametrize("name", BAD_NAMES)
def test_create_refuses_and_writes_nothing(api: Api, name: str) -> None:
    root = api.settings.root
    before = snapshot(root)
    body = {
        "username": name,
        "password": PASSWORD,
        "contact_email": "joko@example.com",
        "primary_domain": "joko.example.com",
        "owner": CAST["reseller"][0],
    }

    response = api.request("POST", "/api/admin/users", json=body, as_="admin")

    assert response.status_code == 422, response.text
    assert response.json()["field"] == "username"
    assert snapshot(root) == before
    assert name not in passwd_names(root)
