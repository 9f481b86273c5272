"""Errors keep their class across the agent socket: `to_dict` in the agent, `error_from_dict`
in the client, for every JoPanelError subclass wherever it is defined."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import jopanel.api.errors
import jopanel.migrate.errors  # noqa: F401 - registers the migration errors
from jopanel import errors
from jopanel.agent import server
from jopanel.agent.client import SocketAgent
from jopanel.agent.context import Call
from jopanel.agent.flow import InjectedFault
from jopanel.agent.ops.packages import Empty
from jopanel.agent.registry import REGISTRY, OpResult, OpSpec
from jopanel.errors import (
    ERRORS_BY_CODE,
    WIRE_OUTPUT_LIMIT,
    CommandFailed,
    Conflict,
    JoPanelError,
    NotFound,
    Throttled,
    ValidationFailed,
    error_from_dict,
)
from jopanel.settings import Settings, load_settings
from tests.conftest import cli

SAMPLE = {
    "message": "it went wrong",
    "field": "username",
    "retry_after": 7,
    "argv": ["/usr/sbin/useradd", "-p", "****", "joko"],
    "returncode": 9,
    "output": "useradd: user 'joko' already exists\n",
}


def sample(cls: type[JoPanelError]) -> JoPanelError:
    return cls.from_dict({"error": cls.code, **SAMPLE})


@contextmanager
def serving(settings: Settings) -> Iterator[SocketAgent]:
    """A real agent on the sandbox's socket, in a thread of this process."""
    bound = server.bind(settings)
    thread = threading.Thread(target=server.run, args=(bound,), daemon=True)
    thread.start()
    client = SocketAgent(settings)
    try:
        yield client
    finally:
        client.close()
        bound.shutdown()
        thread.join(10)


@pytest.fixture
def agent(settings: Settings) -> Iterator[SocketAgent]:
    with serving(settings) as client:
        yield client


@pytest.fixture
def raising(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Exception]]:
    """`package_list` in the agent raises whatever the test puts in the returned list."""
    planted: list[Exception] = []

    def handler(call: Call, p: Empty) -> OpResult:
        raise planted[0]

    spec = OpSpec("package_list", Empty, handler, None, journal=False)
    monkeypatch.setitem(REGISTRY, "package_list", spec)
    yield planted


# --- the registry ---------------------------------------------------------------------------


def test_every_subclass_registers_itself_wherever_it_is_defined() -> None:
    assert ERRORS_BY_CODE["error"] is JoPanelError
    assert ERRORS_BY_CODE["command"] is CommandFailed
    assert ERRORS_BY_CODE["injected_fault"] is InjectedFault
    assert ERRORS_BY_CODE["precondition_required"] is jopanel.api.errors.PreconditionRequired
    assert ERRORS_BY_CODE["v1_denied"] is jopanel.migrate.errors.V1AccessDenied

    def walk(cls: type[JoPanelError]) -> Iterator[type[JoPanelError]]:
        yield cls
        for sub in cls.__subclasses__():
            yield from walk(sub)

    gc.collect()  # classes refused by another test linger in __subclasses__ until collected
    assert {cls.code: cls for cls in walk(JoPanelError)} == ERRORS_BY_CODE


def test_a_taken_code_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(errors, "ERRORS_BY_CODE", dict(ERRORS_BY_CODE))
    with pytest.raises(TypeError, match="'not_found' .* already taken by jopanel.errors.NotFound"):

        class Missing(JoPanelError):
            code = "not_found"

    with pytest.raises(TypeError, match="must set its own `code`"):

        class Inherits(Conflict):  # would be rebuilt as a Conflict
            pass

    with pytest.raises(TypeError, match="own __init__ but no from_dict"):

        class Carrying(JoPanelError):
            code = "carrying"

            def __init__(self, message: str, *, extra: int) -> None:
                super().__init__(message)
                self.extra = extra

    assert errors.ERRORS_BY_CODE == ERRORS_BY_CODE  # nothing half-registered


# --- to_dict / error_from_dict --------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(ERRORS_BY_CODE))
def test_every_class_survives_the_round_trip(code: str) -> None:
    error = sample(ERRORS_BY_CODE[code])
    back = error_from_dict(error.to_dict())
    assert type(back) is ERRORS_BY_CODE[code]
    assert back.to_dict() == error.to_dict()
    assert (str(back), back.exit_code, back.http_status) == (
        str(error),
        error.exit_code,
        error.http_status,
    )


def test_command_failed_carries_its_exit_code_and_the_tail_of_its_output() -> None:
    error = CommandFailed(
        "useradd exited 9: taken", argv=["useradd", "****"], returncode=9, output="x" * 9000 + "!"
    )
    data = error.to_dict()
    assert data["returncode"] == 9 and data["argv"] == ["useradd", "****"]
    assert len(data["output"]) == WIRE_OUTPUT_LIMIT and data["output"].endswith("x!")
    back = error_from_dict(data)
    assert isinstance(back, CommandFailed)
    assert (back.returncode, back.argv, back.output, back.exit_code) == (
        9,
        ["useradd", "****"],
        data["output"],
        7,
    )
    assert error.output == "x" * 9000 + "!"  # the local error keeps all of it


def test_throttled_carries_retry_after() -> None:
    back = error_from_dict(Throttled("slow down", retry_after=41.2).to_dict())
    assert isinstance(back, Throttled) and back.retry_after == 42


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"error": "no_such_code", "message": "new", "field": "x"}, JoPanelError("new", field="x")),
        ({"error": "not_found"}, NotFound("agent error")),
        ({"error": "invalid", "message": 5, "field": ["x"]}, ValidationFailed("agent error")),
        ({"error": "throttled", "message": "m", "retry_after": "soon"}, Throttled("m")),
        (
            {"error": "command", "message": "m", "returncode": "9", "argv": "rm", "output": 3},
            CommandFailed("m", argv=[], returncode=-1, output=""),
        ),
        (["not", "a", "dict"], JoPanelError("agent error")),
    ],
)
def test_unknown_codes_and_odd_values_fall_back(data: object, expected: JoPanelError) -> None:
    back = error_from_dict(data)
    assert type(back) is type(expected)
    assert back.to_dict() == expected.to_dict()


# --- over the real socket -------------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(ERRORS_BY_CODE))
def test_every_class_raised_in_the_agent_arrives_as_itself(
    code: str, agent: SocketAgent, raising: list[Exception]
) -> None:
    error = sample(ERRORS_BY_CODE[code])
    raising.append(error)
    with pytest.raises(JoPanelError) as caught:
        agent.execute("package_list", {})
    assert type(caught.value) is ERRORS_BY_CODE[code]
    assert caught.value.to_dict() == error.to_dict()


def test_command_failed_in_the_agent_arrives_as_command_failed(
    agent: SocketAgent, raising: list[Exception]
) -> None:
    raising.append(
        CommandFailed(
            "nginx exited 1: unknown directive",
            argv=["/usr/sbin/nginx", "-t"],
            returncode=1,
            output="nginx: [emerg] unknown directive\n",
        )
    )
    with pytest.raises(CommandFailed) as caught:
        agent.execute("package_list", {})
    assert caught.value.returncode == 1
    assert caught.value.argv == ["/usr/sbin/nginx", "-t"]
    assert caught.value.output == "nginx: [emerg] unknown directive\n"
    assert caught.value.exit_code == 7


def test_the_cli_exits_7_for_a_command_failed_in_the_running_agent(
    root: Path, agent: SocketAgent, raising: list[Exception]
) -> None:
    raising.append(CommandFailed("nginx exited 1: no", argv=["nginx"], returncode=1, output=""))
    proc = cli(root, "package", "list", check=False)
    assert (proc.returncode, proc.stderr) == (7, "jopanel: nginx exited 1: no\n")


def test_the_cli_exits_3_with_the_field_for_a_not_found_in_the_running_agent(
    root: Path, agent: SocketAgent
) -> None:
    proc = cli(root, "package", "show", "nosuch", check=False)
    assert (proc.returncode, proc.stderr) == (3, "jopanel: package: no package 'nosuch'\n")


def test_real_errors_of_real_ops_keep_class_and_field(agent: SocketAgent) -> None:
    with pytest.raises(NotFound) as not_found:
        agent.execute("package_get", {"name": "nosuch"})
    assert (type(not_found.value), not_found.value.field) == (NotFound, "package")
    with pytest.raises(ValidationFailed) as invalid:
        agent.execute("package_get", {"name": "nosuch", "extra": 1})
    assert invalid.value.field == "extra"


def test_an_injected_fault_arrives_as_injected_fault(root: Path) -> None:
    settings = load_settings(root, fault_point="create_user:useradd")
    with serving(settings) as agent, pytest.raises(InjectedFault) as caught:
        agent.execute(
            "create_user",
            {
                "username": "joko",
                "password": "correct horse 1",
                "contact_email": "j@example.com",
                "primary_domain": "joko.example.com",
            },
        )
    assert caught.value.message == "injected failure before step useradd"
    assert not (root / "home/joko").exists()
