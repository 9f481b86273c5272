"""Every hosting op: dry-run changes nothing, apply changes it, re-apply changes nothing more."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jopanel.errors import Conflict, NotFound
from tests.conftest import Op, new_user
from tests.hosting.conftest import generated, make_key
from tests.test_rollback import snapshot

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIADRMfWAFyOd9SNdAdpqOOkC5Ay1m6I8Im/BjiWkLx3Y m@test"
FINGERPRINT = "SHA256:anmD7YJvdHck5qt1ruqzhkEiMb/vRVa/HWE3REo8myE"

# (op, payload, what a second apply raises; None: it reports no change)
CASES: list[tuple[str, dict[str, Any], type[Exception] | None]] = [
    ("domain_add", {"domain": "shop.example.org"}, Conflict),
    ("domain_add", {"domain": "blog.joko.example.com", "type": "subdomain"}, Conflict),
    ("domain_add", {"domain": "joko.example.net", "type": "alias"}, Conflict),
    ("domain_remove", {"domain": "old.example.org"}, NotFound),
    ("ssh_key_add", {"key": KEY}, Conflict),
    ("ssh_key_remove", {"fingerprint": FINGERPRINT}, NotFound),
    ("ssh_mode_set", {"mode": "shell", "allow_port_forwarding": True}, None),
    ("ssh_mode_set", {"mode": "disabled"}, None),
]


def state(root: Path) -> tuple[dict[str, Any], dict[str, str], bool]:
    keys = root / "home/joko/.ssh/authorized_keys"
    return snapshot(root), generated(root), keys.exists()


@pytest.mark.parametrize(
    ("name", "payload", "again"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_dry_run_apply_reapply(
    op: Op, root: Path, name: str, payload: dict[str, Any], again: type[Exception] | None
) -> None:
    new_user(op, "joko")
    op("update_user_config", username="joko", limits={"max_addon_domains": 0})
    op("domain_add", username="joko", domain="old.example.org")
    op("ssh_key_add", username="joko", key=make_key(root.parent))
    if name == "ssh_key_remove":
        op("ssh_key_add", username="joko", key=KEY)
    before = state(root)
    planned = op(name, dry_run=True, username="joko", **payload)
    assert (planned.dry_run, planned.changed, bool(planned.plan)) == (True, False, True)
    assert planned.plan
    assert state(root) == before
    assert op(name, username="joko", **payload).changed is True
    assert state(root) != before
    if again is None:
        assert op(name, username="joko", **payload).changed is False
    else:
        with pytest.raises(again):
            op(name, username="joko", **payload)
    assert op("apply_user", username="joko").changed is False
