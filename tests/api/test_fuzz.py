"""Property-based fuzzing of every operation in /api/openapi.json with schemathesis.

Each operation gets valid (positive) and invalid (negative) requests, as an admin and
as a hosting account, over real HTTP against a real agent. No answer may be a 5xx, and
every answer must match the status codes and schemas the OpenAPI document declares.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from jopanel.settings import load_settings
from jopanel.system.sandbox import init_root
from tests.api.conftest import PASSWORD, create_account
from tests.api.harness import Api, make_app, running_agent, serving

# Operations that create Linux users cost ~0.5 s each; the rest are milliseconds.
# Logins spend an argon2 verification (~0.3 s here) each.
EXAMPLES = {"POST /api/admin/users": 6, "POST /api/auth/login": 8}
DEFAULT_EXAMPLES = 25


@pytest.fixture(scope="module")
def fuzz_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    root: Path = tmp_path_factory.mktemp("fuzz") / "root"
    fuzz_settings = load_settings(root)
    init_root(fuzz_settings)
    with running_agent(root, fuzz_settings):
        app = make_app(fuzz_settings)
        app.state.ctx.staff.create("admin", PASSWORD, "admin")
        with serving(app) as url:
            api = Api(url=url, app=app, settings=fuzz_settings)
            api.tokens["admin"] = api.login("admin", PASSWORD)
            create_account(api, "fuzzy", "admin")
            api.tokens["account"] = api.login("fuzzy", PASSWORD)
            yield api


def _operations(api: Api) -> list[Any]:
    schema = schemathesis.openapi.from_dict(api.app.openapi())
    return [result.ok() for result in schema.get_all_operations()]


def _fuzz(
    client: httpx.Client,
    operation: Any,
    mode: GenerationMode,
    token: str,
    examples: int,
    statuses: Counter[int],
) -> str | None:
    """Run one operation's examples; returns the first failure, if any."""
    label = f"{operation.method.upper()} {operation.path}"
    failures: list[str] = []

    @settings(
        max_examples=max(examples, 1),
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
        kwargs = case.as_transport_kwargs(base_url=str(client.base_url), headers=headers)
        request = {k: v for k, v in kwargs.items() if k in REQUEST_KEYS}
        if isinstance(request.get("data"), str | bytes):
            request["content"] = request.pop("data")
        response = client.request(**request)
        statuses[response.status_code] += 1
        try:
            case.validate_response(
                response,
                checks=[not_a_server_error, status_code_conformance, response_schema_conformance],
            )
        except Exception as exc:  # noqa: BLE001 - reported with the request that caused it
            failures.append(f"{label}: {response.status_code} {response.text[:200]} ({exc})")
            raise

    try:
        run()
    except Unsatisfiable:
        return None  # nothing in this operation can be made invalid (negative mode)
    except Exception as exc:  # noqa: BLE001 - keep fuzzing the other operations
        return failures[0] if failures else f"{label}: {type(exc).__name__}: {exc}"
    return None


@pytest.mark.parametrize("who", ["admin", "account"])
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_fuzz_every_operation_without_a_server_error(
    fuzz_api: Api, who: str, mode: GenerationMode
) -> None:
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    with httpx.Client(base_url=fuzz_api.url, timeout=60) as client:
        for operation in _operations(fuzz_api):
            label = f"{operation.method.upper()} {operation.path}"
            if label == "POST /api/auth/logout":
                continue  # would end the session the rest of the run uses
            examples = EXAMPLES.get(label, DEFAULT_EXAMPLES)
            if mode == GenerationMode.NEGATIVE:
                examples //= 2
            failure = _fuzz(client, operation, mode, fuzz_api.tokens[who], examples, statuses)
            if failure:
                failures.append(failure)
    assert failures == [], "\n".join(failures)
    # The run reached the routes: valid requests succeed, invalid ones are refused.
    assert sum(statuses.values()) > 100, statuses
    if mode == GenerationMode.POSITIVE:
        assert statuses[200] > 10, statuses
    else:
        assert statuses[422] > 10, statuses


REQUEST_KEYS = {"method", "url", "headers", "params", "json", "content", "data", "files"}
