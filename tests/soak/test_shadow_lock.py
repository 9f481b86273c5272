"""shadow-utils commands of different accounts run in parallel without failing (found by
the soak harness: chpasswd gave up with "cannot lock /etc/passwd; try again later" while
another account's usermod or useradd held the lock, and the API answered 500)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from jopanel.settings import Settings
from jopanel.system.accounts import SystemAccounts
from jopanel.system.crypt import hash_system_password
from jopanel.system.runner import Runner

NAMES = [f"par{n}" for n in range(6)]


def test_parallel_password_and_shell_changes_all_succeed(settings: Settings) -> None:
    accounts = SystemAccounts(settings, Runner())
    for n, name in enumerate(NAMES):
        accounts.groupadd(name, 20100 + n)
        accounts.useradd(name, 20100 + n, 20100 + n, "/bin/bash", create_home=False)
    hashed = hash_system_password("correct horse 1")

    def churn(name: str) -> None:
        for round_ in range(4):
            accounts.set_hash(name, hashed)
            accounts.set_shell(name, "/bin/sh" if round_ % 2 else "/bin/bash")

    with ThreadPoolExecutor(len(NAMES)) as pool:
        for future in [pool.submit(churn, name) for name in NAMES]:
            future.result()  # a "cannot lock" failure is raised here
    assert all(accounts.shadow_hash(name) == hashed for name in NAMES)
