"""One builder per shadow-utils command: every useradd/usermod/groupmod/userdel argv comes
from system/accounts.py, with ROOT's --prefix and `--` before the name, whichever op or
repair path runs it; passwd/shadow/group are parsed by the same pure functions everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from jopanel.agent.context import AgentContext
from jopanel.agent.converge import converge
from jopanel.agent.registry import execute
from jopanel.settings import Settings, load_settings
from jopanel.system.accounts import SystemAccounts, parse_group, parse_shadow
from jopanel.system.runner import Completed, Runner
from tests.conftest import new_user

SHADOW_UTILS = {"useradd", "usermod", "userdel", "groupadd", "groupdel", "groupmod"}
PACKAGE = Path(__file__).resolve().parent.parent / "jopanel"


class RecordingRunner(Runner):
    def __init__(self) -> None:
        self.argvs: list[list[str]] = []

    def run(self, argv: Sequence[str], **kwargs: Any) -> Completed:
        self.argvs.append([str(a) for a in argv])
        return super().run(argv, **kwargs)

    def of(self, tool: str) -> list[list[str]]:
        return [a for a in self.argvs if a[0].rsplit("/", 1)[-1] == tool]


def _ops(settings: Settings, recorder: RecordingRunner) -> AgentContext:
    return AgentContext(settings, runner=recorder)


def _check_shape(argv: list[str], root: Path, name: str) -> None:
    assert argv[1:3] == ["--prefix", str(root)], argv
    assert argv[-2:] == ["--", name] and argv.count("--") == 1, argv


# --- the builders ------------------------------------------------------------------------
def test_useradd_takes_a_gid_or_makes_the_users_group(settings: Settings, root: Path) -> None:
    recorder = RecordingRunner()
    accounts = SystemAccounts(settings, recorder)
    accounts.groupadd("joko", 20000)
    accounts.useradd("joko", 20000, 20000, "/bin/bash")
    accounts.useradd("tina", 20001, None, "/bin/sh", home="/home/elsewhere", create_home=False)

    joko, tina = recorder.of("useradd")
    prefix = ["useradd", "--prefix", str(root)]
    assert joko == [*prefix, "-u", "20000", "-g", "20000", "-d", "/home/joko", "-M",
                    "-s", "/bin/bash", "-c", "JoPanel account", "--", "joko"]  # fmt: skip
    assert tina == [*prefix, "-u", "20001", "-U", "-d", "/home/elsewhere", "-M",
                    "-s", "/bin/sh", "-c", "JoPanel account", "--", "tina"]  # fmt: skip
    assert (root / "home/joko").is_dir() and not (root / "home/elsewhere").exists()
    assert not (root / "home/tina").exists()
    assert accounts.groups()["tina"] == accounts.get("tina").uid  # type: ignore[union-attr]


def test_usermod_adds_only_the_options_given(settings: Settings, root: Path) -> None:
    recorder = RecordingRunner()
    accounts = SystemAccounts(settings, recorder)
    accounts.groupadd("joko", 20000)
    accounts.useradd("joko", 20000, 20000, "/bin/bash")
    recorder.argvs.clear()

    accounts.usermod("joko")
    assert recorder.argvs == []
    accounts.usermod("joko", shell="/bin/sh", lock=True)
    accounts.set_ids("joko", 20000, 20005)  # the uid is right already: groupmod only
    assert [a[3:] for a in recorder.argvs] == [
        ["-s", "/bin/sh", "-L", "--", "joko"],
        ["-g", "20005", "--", "joko"],
    ]
    assert [a[0] for a in recorder.argvs] == ["usermod", "groupmod"]
    entry = accounts.get("joko")
    assert entry is not None and (entry.shell, entry.gid) == ("/bin/sh", 20005)
    assert accounts.is_locked("joko")


# --- every path that makes a Linux user goes through them ------------------------------
def test_converge_recreates_a_missing_user_through_the_builder(
    settings: Settings, root: Path
) -> None:
    recorder = RecordingRunner()
    ctx = _ops(settings, recorder)
    new_user(lambda op, **p: execute(ctx, op, p, actor="test"), "joko")
    config = ctx.store.read("joko")
    ctx.accounts.userdel("joko")
    recorder.argvs.clear()

    converge(ctx, config, dry_run=False)

    (argv,) = recorder.of("useradd")
    _check_shape(argv, root, "joko")
    assert argv[3:7] == ["-u", str(config.account.uid), "-g", str(config.account.gid)]
    assert ctx.accounts.get("joko") is not None


def test_a_failed_delete_restores_the_user_through_the_builder(root: Path) -> None:
    recorder = RecordingRunner()
    ctx = _ops(load_settings(root), recorder)
    new_user(lambda op, **p: execute(ctx, op, p, actor="test"), "joko")
    before = ctx.accounts.get("joko")
    old_hash = ctx.accounts.shadow_hash("joko")
    recorder.argvs.clear()

    failing = _ops(load_settings(root, fault_point="delete_user:remove_home"), recorder)
    with pytest.raises(Exception, match="injected failure"):
        execute(failing, "delete_user", {"username": "joko"}, actor="test")

    (argv,) = recorder.of("useradd")
    _check_shape(argv, root, "joko")
    assert ctx.accounts.get("joko") == before
    assert ctx.accounts.shadow_hash("joko") == old_hash


def test_import_makes_the_user_with_its_own_group(settings: Settings, root: Path) -> None:
    recorder = RecordingRunner()
    ctx = _ops(settings, recorder)
    payload = {
        "username": "sari",
        "origin": "v1:users.id=7",
        "password_hash": "$2b$04$" + "A" * 53,
        "contact_email": "sari@example.com",
        "primary_domain": "sari.example.com",
    }
    execute(ctx, "import_user", payload, actor="test")

    (argv,) = recorder.of("useradd")
    _check_shape(argv, root, "sari")
    assert "-U" in argv and "-g" not in argv
    for argv in recorder.argvs:
        assert payload["password_hash"] not in " ".join(argv)


def test_no_module_builds_a_shadow_utils_argv_or_reaches_into_accounts() -> None:
    """Only system/accounts.py names a shadow-utils binary as argv[0] or uses the runner
    and prefix of SystemAccounts."""
    tools = "|".join(sorted(SHADOW_UTILS))
    argv0 = re.compile(r"""\[\s*["'](""" + tools + r""")["']""")
    reach = re.compile(r"accounts\.(runner|prefix)\b")
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path == PACKAGE / "system/accounts.py":
            continue
        text = path.read_text(encoding="utf-8")
        if argv0.search(text) or reach.search(text):
            offenders.append(str(path.relative_to(PACKAGE)))
    assert offenders == []


# --- the parsers -------------------------------------------------------------------------
def test_parse_shadow_and_group(tmp_path: Path) -> None:
    shadow = tmp_path / "shadow"
    shadow.write_text("# comment\njoko:$6$a$b:19000::::::\njoko:second:1\nbare\ntina:!x:1\n")
    group = tmp_path / "group"
    group.write_text("joko:x:20000:\nbad:x:notanumber:\nshort:x\ntina:x:20001:joko\n")

    assert parse_shadow(shadow) == {"joko": "$6$a$b", "tina": "!x"}
    assert parse_group(group) == {"joko": 20000, "tina": 20001}
    assert parse_shadow(tmp_path / "missing") == {} == parse_group(tmp_path / "missing")
