"""nginx: one generated file per account holding a server block per site.

Files (Debian's layout, all under ROOT): `etc/nginx/sites-available/jopanel-<user>.conf`, enabled
by a symlink in `sites-enabled/`; http-level settings in `etc/nginx/conf.d/jopanel-http.conf`
and the FastCGI parameters in `etc/nginx/snippets/jopanel-fastcgi.conf`; per-domain logs
in `var/log/nginx/domains/`. In a sandbox root JoPanel also writes the main
`etc/nginx/nginx.conf` (pid, logs and temp paths under ROOT, a default server answering
404 for unknown hosts), so the real nginx can run the generated files on loopback.
On the real root the distribution's nginx.conf stays in charge.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..atomic import ensure_dir, replace_symlink
from ..schemas import UserConfig
from ..settings import Settings
from .certs import CertStore
from .runner import Runner
from .staging import ConfigFamily, write_if_changed
from .templating import render

WEB_USER = "www-data"
WEB_GROUP = "www-data"
HTTP_SETTINGS = (
    ("server_names_hash_bucket_size", "512"),
    ("server_names_hash_max_size", "65536"),
)


@dataclass(frozen=True)
class Site:
    """One server block: its names and document root (real paths under ROOT)."""

    names: list[str]
    root: Path

    def context(self, log_dir: Path) -> dict[str, object]:
        return {
            "names": self.names,
            "root": self.root,
            "access_log": log_dir / f"{self.names[0]}.access.log",
            "error_log": log_dir / f"{self.names[0]}.error.log",
        }


def sites_of(settings: Settings, config: UserConfig) -> list[Site]:
    """Primary (with its www name and aliases), addon domains (with their www names),
    subdomains, each with its own document root."""
    home = settings.home_of(config.username)
    domains = config.domains
    www = domains.www_of
    primary = [domains.primary, *filter(None, [www(domains.primary)]), *domains.alias_domains]
    sites = [Site(primary, home / "public_html")]
    sites += [
        Site([a.domain, *filter(None, [www(a.domain)])], home / a.docroot)
        for a in domains.addon_domains
    ]
    sites += [Site([s.fqdn], home / s.docroot) for s in domains.subdomains]
    return sites


class Nginx(ConfigFamily):
    reload_key = "nginx"

    def __init__(self, settings: Settings, runner: Runner) -> None:
        super().__init__(settings, runner)
        self.etc = settings.path("etc/nginx")
        self.main_config = self.etc / "nginx.conf"
        self.http_snippet = self.etc / "conf.d/jopanel-http.conf"
        self.fastcgi_snippet = self.etc / "snippets/jopanel-fastcgi.conf"
        self.tls_snippet = self.etc / "snippets/jopanel-tls.conf"
        self.certs = CertStore(settings)
        self.log_dir = settings.path("var/log/nginx/domains")
        self.error_log = settings.path("var/log/nginx/error.log")
        self.suspended_root = settings.path("var/www/jopanel/suspended")
        self.temp_dir = settings.path("var/cache/jopanel/nginx")

    @property
    def live_dir(self) -> Path:
        return self.etc / "sites-available"

    @property
    def enabled_dir(self) -> Path:
        return self.etc / "sites-enabled"

    def listen(self) -> list[str]:
        """A sandbox answers on loopback only; the real root on every address."""
        port = self.settings.http_port
        if self.settings.is_sandbox:
            return [f"127.0.0.1:{port}"]
        addresses = [str(port)]
        if os.path.exists("/proc/net/if_inet6"):
            addresses.append(f"[::]:{port}")
        return addresses

    def listen_https(self) -> list[str]:
        """Where HTTPS server blocks listen (none while HTTPS is off: settings.https_enabled)."""
        if not self.settings.https_enabled:
            return []
        port = self.settings.https_port
        if self.settings.is_sandbox:
            return [f"127.0.0.1:{port}"]
        addresses = [str(port)]
        if os.path.exists("/proc/net/if_inet6"):
            addresses.append(f"[::]:{port}")
        return addresses

    def tls_context(self, config: UserConfig, site: Site) -> dict[str, object] | None:
        """The HTTPS block of a site: only with a certificate on disk that is in date and
        covers every name of the site; until then the site is served over HTTP only."""
        if not self.settings.https_enabled:
            return None
        tls = config.domains.tls_of(site.names[0])
        if tls.mode == "off":
            return None
        cert = self.certs.current(site.names[0])
        if cert is None or cert.owner != config.username or not cert.valid_for(site.names):
            return None
        fullchain, key = self.certs.live_paths(site.names[0])
        return {"fullchain": fullchain, "key": key, "redirect": tls.redirect, "hsts": tls.hsts}

    # --- rendering ----------------------------------------------------------------------
    def render_vhost(
        self, config: UserConfig, php_socket: Path | None, over_bandwidth: bool = False
    ) -> str:
        """`over_bandwidth`: the account used its month's bandwidth and its package says
        block, so every site answers 509 (a suspension still wins: 503)."""
        suspended = config.account.status == "suspended"
        return render(
            "nginx_vhost.conf.j2",
            username=config.username,
            listen=self.listen(),
            sites=[
                {**s.context(self.log_dir), "tls": self.tls_context(config, s)}
                for s in sites_of(self.settings, config)
            ],
            listen_https=self.listen_https(),
            https_suffix="" if self.settings.https_port == 443 else f":{self.settings.https_port}",
            tls_snippet=self.tls_snippet,
            acme_webroot=self.settings.acme_webroot,
            suspended=suspended,
            over_bandwidth=over_bandwidth and not suspended,
            suspended_root=self.suspended_root,
            max_body_mb=config.services.php.settings.post_max_size_mb,
            php_socket=php_socket,
            fastcgi_snippet=self.fastcgi_snippet,
        )

    def render_main(self, include_dir: Path, *, pid: Path, error_log: Path, purpose: str) -> str:
        return render(
            "nginx_main.conf.j2",
            purpose=purpose,
            # `user` matters only to a master started as root (it refuses to serve as root).
            user=f"{WEB_USER} {WEB_GROUP}" if os.geteuid() == 0 else None,
            workers=2 if self.settings.is_sandbox else "auto",
            pid=pid,
            error_log=error_log,
            temp_dir=self.temp_dir,
            http_snippet=self.http_snippet,
            default_server=self.settings.is_sandbox,
            listen=self.listen()[0],
            listen_https=next(iter(self.listen_https()), None),
            include_dir=include_dir,
        )

    # --- base files ---------------------------------------------------------------------
    def http_settings(self) -> list[tuple[str, str]]:
        """Our http-level directives, minus any the host's own nginx.conf already sets
        (nginx refuses a duplicate, and the administrator's value wins)."""
        taken: set[str] = set()
        if not self.settings.is_sandbox:
            try:
                text = self.main_config.read_text(encoding="utf-8")
            except FileNotFoundError:
                text = ""
            taken = {line.split()[0] for line in text.splitlines() if line.strip()[:1].isalpha()}
        return [(d, v) for d, v in HTTP_SETTINGS if d not in taken]

    def ensure_base(self) -> None:
        super().ensure_base()
        ensure_dir(self.log_dir, 0o755)
        ensure_dir(self.temp_dir, 0o755)
        ensure_dir(self.suspended_root, 0o755)
        ensure_dir(self.settings.acme_webroot, 0o755)
        base = {
            self.http_snippet: render("nginx_http.conf.j2", settings=self.http_settings()),
            self.fastcgi_snippet: render("nginx_fastcgi.conf.j2"),
            self.tls_snippet: render("nginx_tls.conf.j2"),
            self.suspended_root / "suspended.html": render("suspended.html.j2"),
            self.suspended_root / "bandwidth.html": render("bandwidth.html.j2"),
        }
        if self.settings.is_sandbox:
            base[self.main_config] = self.render_main(
                self.enabled_dir,
                pid=self.settings.path("run/nginx.pid"),
                error_log=self.error_log,
                purpose="main config of a sandbox root",
            )
        for path, content in base.items():
            write_if_changed(path, content)

    # --- live files: sites-available + a symlink in sites-enabled ----------------------
    def read_live(self, name: str) -> str | None:
        link = self.enabled_dir / name
        if not link.is_symlink() or os.readlink(link) != str(self.live_dir / name):
            return None
        return super().read_live(name)

    def activate(self, name: str, content: str) -> None:
        super().activate(name, content)
        link = self.enabled_dir / name
        target = str(self.live_dir / name)
        if not link.is_symlink() or os.readlink(link) != target:
            replace_symlink(link, target)

    def deactivate(self, name: str) -> bool:
        link = self.enabled_dir / name
        removed = link.is_symlink() or link.exists()
        link.unlink(missing_ok=True)
        return super().deactivate(name) or removed

    # --- checking -----------------------------------------------------------------------
    def write_check_config(self, stage: Path, include_dir: Path) -> Path:
        main = stage / "nginx.conf"
        main.write_text(
            self.render_main(
                include_dir,
                pid=stage / "nginx.pid",
                error_log=stage / "error.log",
                purpose="check of staged files",
            ),
            encoding="utf-8",
        )
        return main

    def check_argv(self, main_config: Path, stage: Path) -> list[str]:
        # -e: nginx opens its compiled-in error log before reading any config; keep it here.
        return [
            "nginx",
            "-t",
            "-q",
            "-p",
            f"{stage}/",
            "-e",
            str(stage / "error.log"),
            "-c",
            str(main_config),
        ]

    def signal_argv(self, signal: str) -> list[str]:
        """`nginx -s SIGNAL` for the sandbox's own nginx (pid file under ROOT)."""
        return [
            "nginx",
            "-p",
            f"{self.etc}/",
            "-e",
            str(self.error_log),
            "-c",
            str(self.main_config),
            "-s",
            signal,
        ]
