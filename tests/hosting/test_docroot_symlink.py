"""A document root replaced by a symlink into another home: nginx refuses it, reconcile repairs it.

Account joko replaces its `public_html` with a link to budi's home (or budi's
`public_html`). The files behind the link are readable by www-data (budi's home is
traversable, its docroot readable), so only nginx's `disable_symlinks if_not_owner`
checking every path component stands between joko's domain and budi's files. Reconcile
reports the link, removes it without following it and makes the directory again.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from jopanel.agent.context import AgentContext
from jopanel.agent.registry import OpResult, execute
from jopanel.settings import Settings, load_settings
from jopanel.system.nginx import Nginx
from tests.conftest import Op, cli, new_user
from tests.hosting.test_e2e import Web, free_port, run_op, stop, wait_for
from tests.hosting.test_permissions import WWW_DATA, as_uid

SECRET = "budi-secret-7f3a9c"


@dataclass
class Tenants:
    root: Path
    settings: Settings
    web: Web
    joko_uid: int
    budi_uid: int

    @property
    def joko(self) -> Path:
        return self.root / "home/joko"

    @property
    def budi(self) -> Path:
        return self.root / "home/budi"


def write_owned(path: Path, text: str, uid: int, mode: int = 0o644) -> None:
    path.write_text(text)
    os.chown(path, uid, uid)
    os.chmod(path, mode)


def budi_files(budi: Path) -> dict[str, tuple[bytes, int, int, int]]:
    """Every entry under budi's home: content (files), owner, group and mode, by path."""
    found: dict[str, tuple[bytes, int, int, int]] = {}
    for path in sorted(budi.rglob("*")):
        st = path.lstat()
        content = path.read_bytes() if stat.S_ISREG(st.st_mode) else b""
        found[str(path.relative_to(budi))] = (content, st.st_uid, st.st_gid, st.st_mode)
    return found


@pytest.fixture
def tenants(open_root: Path) -> Iterator[Tenants]:
    """joko and budi, served by the sandbox's real nginx (static files only: no PHP)."""
    root = open_root
    port = free_port()
    settings = load_settings(root, http_port=port)
    ctx = AgentContext(settings)
    for name in ("joko", "budi"):
        run_op(
            ctx,
            "create_user",
            username=name,
            password="correct horse 1",
            contact_email=f"{name}@example.com",
            primary_domain=f"{name}.example.com",
        )
    joko_uid = (root / "home/joko").stat().st_uid
    budi_uid = (root / "home/budi").stat().st_uid
    write_owned(root / "home/joko/public_html/index.html", "<h1>joko's own page</h1>\n", joko_uid)
    # Private files of budi that www-data could read: one in the (traversable) home, one
    # in the document root under a name nobody links to.
    write_owned(root / "home/budi/secret.txt", f"{SECRET} home\n", budi_uid)
    write_owned(root / "home/budi/public_html/secret.txt", f"{SECRET} docroot\n", budi_uid)

    nginx = Nginx(settings, ctx.runner)
    web_process = subprocess.Popen(
        ["nginx", "-p", f"{nginx.etc}/", "-e", str(nginx.error_log), "-c", str(nginx.main_config),
         "-g", "daemon off;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(lambda: (root / "run/nginx.pid").exists(), "nginx")
        settings = load_settings(root, http_port=port, nginx_reload=nginx.signal_argv("reload"))
        web = Web(port)
        yield Tenants(root, settings, web, joko_uid, budi_uid)
        web.client.close()
    finally:
        stop(web_process)


def reconcile(ctx: AgentContext, *, dry_run: bool = False, **payload: object) -> OpResult:
    return execute(ctx, "reconcile", payload, actor="test", dry_run=dry_run)


def plant_link(tenants: Tenants, target: Path) -> None:
    """joko swaps its public_html for a link (owned by joko) to `target`."""
    docroot = tenants.joko / "public_html"
    docroot.rename(tenants.joko / "public_html.old")
    os.symlink(target, docroot)
    os.lchown(docroot, tenants.joko_uid, tenants.joko_uid)


@pytest.mark.parametrize("target", ["home", "public_html"])
def test_a_docroot_linked_into_another_home_is_refused_then_repaired(
    tenants: Tenants, target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    web, joko, budi = tenants.web, tenants.joko, tenants.budi
    page = web.until("joko.example.com", "/", lambda r: r.status_code == 200)
    assert page.text == "<h1>joko's own page</h1>\n"
    # budi's docroot file is within nginx's reach on budi's own domain.
    own = web.until("budi.example.com", "/secret.txt", lambda r: r.status_code == 200)
    assert SECRET in own.text

    linked_to = budi if target == "home" else budi / "public_html"
    plant_link(tenants, linked_to)
    before = budi_files(budi)
    # The file system alone would let the web server through the link...
    assert as_uid(WWW_DATA, "cat", str(joko / "public_html/secret.txt")).returncode == 0
    # ...nginx does not.
    for path in ("/secret.txt", "/", "/index.html"):
        response = web.get("joko.example.com", path)
        assert response.status_code in (403, 404), (path, response.status_code)
        assert SECRET not in response.text
        assert "joko's own page" not in response.text

    ctx = AgentContext(tenants.settings)
    line = "document root public_html is a symlink: replaced by a directory"
    planned = reconcile(ctx, dry_run=True)
    assert f"joko: {line}" in planned.plan
    assert not [p for p in planned.plan if p.startswith("budi:")]
    # The CLI (in-process ops, same port) plans the same single line.
    monkeypatch.setenv("JOPANEL_HTTP_PORT", str(tenants.settings.http_port))
    shown = json.loads(cli(tenants.root, "--json", "reconcile", "--dry-run").stdout)
    assert shown["plan"] == [f"joko: {line}"]
    assert (joko / "public_html").is_symlink()  # the dry runs changed nothing
    assert budi_files(budi) == before

    repaired = reconcile(ctx, username="joko")
    assert repaired.plan == [f"joko: {line}"]
    docroot = (joko / "public_html").lstat()
    assert stat.S_ISDIR(docroot.st_mode)
    assert (docroot.st_uid, docroot.st_gid) == (tenants.joko_uid, tenants.joko_uid)
    assert stat.S_IMODE(docroot.st_mode) == 0o755
    assert budi_files(budi) == before  # the link's target was never touched
    assert (joko / "public_html.old/index.html").read_text() == "<h1>joko's own page</h1>\n"
    assert reconcile(ctx, username="joko").plan == []
    assert reconcile(ctx, dry_run=True).plan == []

    # joko's site serves joko's files again: the new docroot's welcome page, then its own.
    welcome = (tenants.settings.skel_dir / "public_html/index.html").read_text()
    assert (joko / "public_html/index.html").read_text() == welcome
    page = web.until("joko.example.com", "/", lambda r: r.status_code == 200)
    assert page.text == welcome
    write_owned(joko / "public_html/index.html", "<h1>joko's own page</h1>\n", tenants.joko_uid)
    assert web.get("joko.example.com", "/").text == "<h1>joko's own page</h1>\n"
    gone = web.get("joko.example.com", "/secret.txt")
    assert gone.status_code == 404
    assert SECRET not in gone.text


# --- the same repair for every kind of document root, without nginx ----------------------


def changes(op: Op, *, dry_run: bool = False) -> list[str]:
    """What reconcile of joko reports (or repairs)."""
    reports = op("reconcile", dry_run=dry_run, username="joko").data
    return list(reports[0]["changes"])


def link_in_place(path: Path, target: Path, uid: int) -> None:
    if path.is_dir() and not path.is_symlink():
        path.rename(path.with_name(path.name + ".old"))
    os.symlink(target, path)
    os.lchown(path, uid, uid)


def test_addon_and_subdomain_docroots_and_their_parents(op: Op, root: Path) -> None:
    new_user(op, "joko")
    new_user(op, "budi")
    op("domain_add", username="joko", domain="shop.example.org")
    op("domain_add", username="joko", domain="blog.joko.example.com", type="subdomain")
    op("domain_add", username="budi", domain="budi-shop.example.org")
    joko, budi = root / "home/joko", root / "home/budi"
    uid = joko.stat().st_uid
    write_owned(budi / "secret.txt", SECRET, budi.stat().st_uid)
    before = budi_files(budi)

    link_in_place(joko / "domains/shop.example.org/public_html", budi / "public_html", uid)
    link_in_place(joko / "domains/joko.example.com/subdomains/blog", budi, uid)
    planned = changes(op, dry_run=True)
    assert planned == [
        "document root domains/shop.example.org/public_html is a symlink: replaced by a "
        "directory; document root domains/joko.example.com/subdomains/blog is a symlink: "
        "replaced by a directory"
    ]
    assert changes(op) == planned
    for docroot in ("domains/shop.example.org/public_html",
                    "domains/joko.example.com/subdomains/blog"):  # fmt: skip
        st = (joko / docroot).lstat()
        assert stat.S_ISDIR(st.st_mode), docroot
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (uid, uid, 0o755)
    assert changes(op) == []

    # A link higher up (the whole `domains` directory) is reported once and replaced.
    link_in_place(joko / "domains", budi / "domains", uid)
    planned = changes(op, dry_run=True)
    assert planned == [
        "document root domains/shop.example.org/public_html: domains is a symlink: "
        "replaced by a directory"
    ]
    assert (joko / "domains").is_symlink()
    changes(op)
    assert not (joko / "domains").is_symlink()
    assert (joko / "domains/shop.example.org/public_html/index.html").is_file()
    assert (joko / "domains/joko.example.com/subdomains/blog").is_dir()
    assert changes(op) == []
    assert budi_files(budi) == before


def test_a_file_in_place_of_the_docroot_is_moved_aside(op: Op, root: Path) -> None:
    new_user(op, "joko")
    joko = root / "home/joko"
    uid = joko.stat().st_uid
    (joko / "public_html").rename(joko / "public_html.old")
    write_owned(joko / "public_html", "not a directory", uid)
    line = "document root public_html is not a directory: moved aside for a directory"
    assert changes(op, dry_run=True) == [line]
    assert (joko / "public_html").is_file()
    assert changes(op) == [line]
    assert (joko / "public_html").is_dir()
    (moved,) = joko.glob("public_html.jopanel-moved-*")
    assert moved.read_text() == "not a directory"
    assert changes(op) == []


def test_a_link_to_a_system_directory_is_removed_not_followed(op: Op, root: Path) -> None:
    new_user(op, "joko")
    joko = root / "home/joko"
    target = root / "etc/jopanel"
    before = sorted(p.name for p in target.iterdir())
    link_in_place(joko / "public_html", target, joko.stat().st_uid)
    changes(op)
    assert (joko / "public_html").is_dir() and not (joko / "public_html").is_symlink()
    assert sorted(p.name for p in target.iterdir()) == before
    assert not any(target.glob("index.html"))
