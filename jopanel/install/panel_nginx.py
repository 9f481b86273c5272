"""The JoPanel nginx server block: HTTPS on port 8083 in front of the API (`listen`).

Its file name `jopanel.conf` cannot collide with an account's `jopanel-<name>.conf`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from ..atomic import ensure_dir, replace_symlink
from ..settings import Settings
from ..system.nginx import Nginx
from ..system.runner import Runner
from ..system.templating import render
from .files import put_file
from .panel_tls import panel_cert

PANEL_SITE = "jopanel.conf"


def panel_site(settings: Settings) -> tuple[Path, Path]:
    """(sites-available file, sites-enabled link)."""
    etc = settings.path("etc/nginx")
    return etc / "sites-available" / PANEL_SITE, etc / "sites-enabled" / PANEL_SITE


def render_panel_site(settings: Settings, hostname: str | None) -> str:
    """The HTTPS server in front of the API; with a hostname also a port-80 server for it
    that answers ACME HTTP-01 tokens and sends everything else to the panel."""
    from ..cli.serve import parse_listen

    host, port = parse_listen(settings.listen)
    cert, key = panel_cert(settings)
    panel_port = settings.panel_port
    listen = [f"127.0.0.1:{panel_port}"] if settings.is_sandbox else [str(panel_port)]
    if not settings.is_sandbox and Path("/proc/net/if_inet6").exists():
        listen.append(f"[::]:{panel_port}")
    return render(
        "nginx_panel.conf.j2",
        listen=listen,
        hostname=hostname,
        http_listen=Nginx(settings, Runner()).listen(),
        acme_webroot=settings.acme_webroot,
        panel_port=panel_port,
        upstream=f"{host}:{port}" if ":" not in host else f"[{host}]:{port}",
        certificate=cert,
        key=key,
        max_body=max(settings.max_body_bytes, settings.max_upload_bytes),
    )


def check_panel_site(settings: Settings, runner: Runner, content: str) -> None:
    """`nginx -t` on the block alone, in a staging directory (as the agent checks vhosts)."""
    nginx = Nginx(settings, runner)
    nginx.ensure_base()
    base = ensure_dir(settings.state_dir / "staging", 0o700)
    with tempfile.TemporaryDirectory(dir=base, prefix="panel-") as scratch:
        stage = Path(scratch)
        (stage / "sites").mkdir()
        (stage / "sites" / PANEL_SITE).write_text(content, encoding="utf-8")
        main = nginx.write_check_config(stage, stage / "sites")
        runner.run(nginx.check_argv(main, stage))


def ensure_panel_site(settings: Settings, runner: Runner, hostname: str | None) -> list[str]:
    """Write (when changed, after `nginx -t`) and enable the panel's server block."""
    done: list[str] = []
    content = render_panel_site(settings, hostname)
    live, link = panel_site(settings)
    current = live.read_text(encoding="utf-8") if live.is_file() else None
    if current != content:
        check_panel_site(settings, runner, content)
        put_file(live, content.encode(), 0o644)
        done.append(f"wrote {live}")
    if not link.is_symlink() or link.readlink() != live:
        ensure_dir(link.parent, 0o755)
        replace_symlink(link, str(live))
        done.append(f"enabled {link}")
    return done


def remove_panel_site(settings: Settings) -> list[str]:
    done = []
    for path in reversed(panel_site(settings)):
        if path.is_symlink() or path.exists():
            path.unlink()
            done.append(f"removed {path}")
    return done
