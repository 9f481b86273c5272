"""The agent's password check and password stamps on a real sandbox root (real
shadow-utils): the stamp names the hash that was checked, and a hash set between the
check and the answer must match the password as well."""

from __future__ import annotations

from jopanel.agent.context import AgentContext
from jopanel.system.accounts import SystemAccounts
from jopanel.system.crypt import hash_system_password
from tests.conftest import Op, new_user

PASSWORD = "correct horse 1"


class SetRightAfterTheCheck(SystemAccounts):
    """The real shadow, but an admin sets `hashed` right after the first read of it (the
    moment between verify_password's check and its answer)."""

    def __init__(self, real: SystemAccounts, hashed: str) -> None:
        super().__init__(real.settings, real.runner)
        self.pending: str | None = hashed

    def shadow_hash(self, name: str) -> str | None:
        current = super().shadow_hash(name)
        if self.pending is not None:
            hashed, self.pending = self.pending, None
            self.set_hash(name, hashed)
        return current


def verify(op: Op, password: str) -> dict[str, object]:
    data: dict[str, object] = op("verify_password", username="joko", password=password).data
    return data


def test_the_stamp_names_the_checked_hash_and_changes_with_it(op: Op) -> None:
    new_user(op)
    checked = verify(op, PASSWORD)
    assert checked["ok"] is True
    stamp = checked["password_stamp"]
    assert isinstance(stamp, str) and len(stamp) == 32
    assert op("password_stamp", username="joko").data == {"stamp": stamp}
    op("set_password", username="joko", password="another secret 2")
    assert op("password_stamp", username="joko").data["stamp"] not in (stamp, None)
    assert op("password_stamp", username="nosuchname").data == {"stamp": None}


def test_a_password_set_between_the_check_and_the_answer_refuses_the_old_one(
    op: Op, ctx: AgentContext
) -> None:
    new_user(op)
    real = ctx.accounts
    ctx.accounts = SetRightAfterTheCheck(real, hash_system_password("another secret 2"))
    try:
        assert verify(op, PASSWORD) == {"ok": False}
    finally:
        ctx.accounts = real
    assert verify(op, PASSWORD) == {"ok": False}


def test_a_hash_set_meanwhile_that_also_matches_is_the_one_stamped(
    op: Op, ctx: AgentContext
) -> None:
    new_user(op)
    same_password = hash_system_password(PASSWORD)  # another salt, the same password
    real = ctx.accounts
    ctx.accounts = SetRightAfterTheCheck(real, same_password)
    try:
        checked = verify(op, PASSWORD)
    finally:
        ctx.accounts = real
    assert checked["ok"] is True
    assert checked["password_stamp"] == op("password_stamp", username="joko").data["stamp"]
