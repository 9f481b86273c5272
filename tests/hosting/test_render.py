"""Rendering guards: nothing unchecked reaches a template; PHP settings are a typed allow-list."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from jopanel.agent.context import AgentContext
from jopanel.errors import ValidationFailed
from jopanel.system.phpfpm import PhpFpm, PhpIni
from jopanel.system.templating import config_path, render
from tests.conftest import Op, new_user

BAD_VALUES = ["a\nb", "a;b", "a{b", "a}b", "a$b", 'a"b', "a'b", "a`b", "a\\b", "a\rb", "a\0b"]


@pytest.mark.parametrize("bad", BAD_VALUES)
def test_render_refuses_unsafe_values_whatever_their_origin(bad: str) -> None:
    with pytest.raises(ValidationFailed, match="not allowed in configuration"):
        render("sshd_match.conf.j2", username=bad, mode="shell", authorized_keys=Path("/k"),
               chroot_dir=Path("/home"), start_dir="/", port_forwarding=False,
               agent_forwarding=False, x11_forwarding=False, force_command=None)  # fmt: skip
    with pytest.raises(ValidationFailed):
        render("nginx_vhost.conf.j2", username="joko", listen=["80"],
               sites=[{"names": ["a.example.com", bad], "root": Path("/srv"),
                       "access_log": Path("/l"), "error_log": Path("/e")}],
               suspended=False, suspended_root=Path("/s"), php_socket=None,
               fastcgi_snippet=Path("/f"))  # fmt: skip


@pytest.mark.parametrize("bad", ["relative/path", "/with space", "/with#hash", "/a;b", "/tab\t"])
def test_paths_in_configs_are_absolute_and_plain(bad: str) -> None:
    with pytest.raises(ValidationFailed):
        config_path(bad)


@pytest.mark.parametrize(
    "extra",
    [
        {"auto_prepend_file": "/tmp/x.php"},
        {"user": "root"},
        {"listen": "/run/other.sock"},
        {"php_admin_value": {"open_basedir": "/"}},
        {"memory_limit_mb": 10**6},
    ],
)
def test_php_settings_are_a_typed_allow_list(extra: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        PhpIni.model_validate(extra)


def test_pool_never_carries_client_chosen_user_listen_or_prepend(op: Op, ctx: AgentContext) -> None:
    new_user(op, "joko")
    config = ctx.store.read("joko")
    pool = PhpFpm(ctx.settings, ctx.runner, "8.2").render_pool(config, PhpIni(display_errors=True))
    assert "auto_prepend_file" not in pool
    assert pool.count("\nuser = ") == 1 and "\nuser = joko\n" in pool
    assert pool.count("\nlisten = ") == 1
    assert "php_admin_flag[display_errors] = on" in pool
    # open_basedir is ':'-separated: an entry with ':' would add a path, so it is refused
    # even when it slipped past the schema (constructed without validation here).
    php = config.services.php.model_copy(update={"open_basedir": ["/home/joko:/etc"]})
    sneaky = config.with_(services=config.services.model_copy(update={"php": php}))
    with pytest.raises(ValidationFailed, match="must not contain ':'"):
        PhpFpm(ctx.settings, ctx.runner, "8.2").render_pool(sneaky)
