"""Property: every account config JoPanel accepts renders files that the real nginx -t,
php-fpm -t and sshd -t accept; everything else is refused before any file is written."""

from __future__ import annotations

import copy
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from jopanel.agent.context import AgentContext
from jopanel.agent.hosting import Hosting
from jopanel.agent.registry import execute
from jopanel.errors import ValidationFailed
from jopanel.schemas import UserConfig
from jopanel.settings import load_settings
from jopanel.system.sandbox import init_root
from jopanel.system.sshd import effective_mode

NASTY = list("abz09.-_/;{}$\"'`\\ \t\n\r#:*@%é\u202e\x00")
nasty_text = st.one_of(st.text(alphabet=st.sampled_from(NASTY), max_size=40), st.text(max_size=30))
label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?", fullmatch=True)
good_domain = st.builds(
    lambda labels, tld: ".".join([*labels, tld]),
    st.lists(label, min_size=1, max_size=4),
    st.sampled_from(["com", "org", "net", "xn--p1ai", "co.uk"]),
)
abs_path = st.builds(lambda parts: "/" + "/".join(parts), st.lists(label, min_size=1, max_size=3))
rel_path = st.builds("/".join, st.lists(label, min_size=1, max_size=3))
command = st.builds(" ".join, st.lists(st.one_of(label, abs_path), min_size=1, max_size=4))


@st.composite
def documents(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    """Mostly well-formed configs (so the binaries get real work); in a third of the
    examples any field may instead be hostile text."""
    dirty = draw(st.integers(0, 2)) == 0

    def pick(good: st.SearchStrategy[Any]) -> Any:
        if dirty and draw(st.integers(0, 3)) == 0:
            return draw(nasty_text)
        return draw(good)

    docs = copy.deepcopy(base)
    primary = pick(good_domain)
    docs["account"]["primary_domain"] = primary
    docs["account"]["status"] = draw(st.sampled_from(["active", "active", "active", "suspended"]))
    addons = [pick(good_domain) for _ in range(draw(st.integers(0, 3)))]
    parents = [primary, *addons]
    docs["domains"] = {
        "schema_version": 1,
        "primary": primary,
        "addon_domains": [
            {"domain": a, "docroot": pick(st.one_of(st.just(f"domains/{a}/public_html"), rel_path))}
            for a in addons
        ],
        "subdomains": [
            {
                "subdomain": pick(label),
                "parent": draw(st.sampled_from(parents)),
                "docroot": pick(rel_path),
            }
            for _ in range(draw(st.integers(0, 2)))
        ],  # fmt: skip
        "alias_domains": [pick(good_domain) for _ in range(draw(st.integers(0, 2)))],
    }
    docs["services"]["php"]["enabled"] = draw(st.integers(0, 3)) > 0
    docs["services"]["php"]["open_basedir"] = [
        pick(st.one_of(st.just("/home/prop"), abs_path)) for _ in range(draw(st.integers(0, 2)))
    ]
    docs["ssh"].update(
        enabled=draw(st.integers(0, 3)) > 0,
        mode=draw(st.sampled_from(["sftp_chroot", "shell", "disabled"])),
        force_command=pick(st.one_of(st.none(), command)),
        chroot_dir=pick(st.one_of(st.none(), abs_path)),
        allow_port_forwarding=draw(st.booleans()),
        allow_agent_forwarding=draw(st.booleans()),
        allow_x11_forwarding=draw(st.booleans()),
    )
    return docs


@pytest.fixture(scope="module")
def hosting(tmp_path_factory: pytest.TempPathFactory) -> Hosting:
    root = tmp_path_factory.mktemp("property") / "root"
    init_root(load_settings(root))
    ctx = AgentContext(load_settings(root))
    execute(ctx, "create_user", {"username": "prop", "password": "correct horse 1",
                                 "contact_email": "p@example.com",
                                 "primary_domain": "prop.example.com"})  # fmt: skip
    return Hosting(ctx)


BASE: dict[str, Any] = {}


@settings(max_examples=int(os.environ.get("HOSTING_EXAMPLES", "40")), deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])  # fmt: skip
@given(data=st.data())
def test_accepted_configs_pass_the_real_checks(hosting: Hosting, data: st.DataObject) -> None:
    if not BASE:
        BASE.update(hosting.ctx.store.read("prop").documents())
    docs = data.draw(documents(BASE))
    try:
        config = UserConfig.from_documents(docs)
        want = hosting.wanted(config)
    except ValidationFailed:
        event("refused")
        return  # refused before any file exists: fine
    event(f"accepted, ssh {effective_mode(config)}, pool {want.pool is not None}")
    hosting.nginx.check({want.name: want.vhost})
    hosting.sshd.check({want.name: want.sshd})
    if want.pool is not None:
        hosting.php(want.php_version).check({want.name: want.pool})
    root = str(hosting.settings.root)
    for text in (want.vhost, want.sshd, want.pool or ""):
        for line in text.splitlines():
            assert "\x00" not in line and "\r" not in line
            assert not any(bad in line for bad in ("${", "`"))
    assert root in want.vhost
