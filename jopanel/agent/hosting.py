"""An account's web, PHP and SSH state: plan it from the config, then apply the difference.

For one account JoPanel owns: the document roots (and the ACLs that let the web server in),
the nginx vhost, the PHP-FPM pool, the sshd Match block and `~/.ssh/authorized_keys`.
`plan_changes` compares them with what is on disk and returns one Drift per thing that
differs, each carrying its fix; `converge` runs those fixes after the account's Linux
state, so create/update/suspend/unsuspend/reconcile all go through here.

Every generated file is rendered, staged, checked with the real binary together with the
files it will run beside, then swapped in atomically; its service is marked for a
(coalesced) reload. A file that fails its check is never activated: the last good one
stays and the op fails with the binary's own message.

`rebuild` does the same for many accounts at once with one check per family (falling back
to account by account only when the batch fails, to find the culprit), and removes the
files of accounts that no longer exist.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from ..errors import CommandFailed, Conflict, JoPanelError, NotFound, ValidationFailed
from ..logs import PROGRESS
from ..schemas import UserConfig
from ..system import homefiles
from ..system.homefiles import READ_TRAVERSE, TRAVERSE, UnsafePath
from ..system.nginx import WEB_USER, Nginx
from ..system.phpfpm import PhpFpm, pool_files
from ..system.reload import Reloader, reloader_for
from ..system.sshd import Sshd
from ..system.staging import FILE_RE, ConfigFamily, file_name, username_of
from .bandwidth import blocked as bandwidth_blocked
from .cert_drift import orphan_certs
from .context import AgentContext
from .drift import Drift

log = logging.getLogger("jopanel.agent.hosting")

T = TypeVar("T")

# Directories of the account besides its document roots: (relative path, mode).
PRIVATE_DIRS = (("tmp", 0o700), ("logs", 0o750), (".ssh", 0o700))


@dataclass(frozen=True)
class Wanted:
    """Everything generated for one account."""

    name: str
    vhost: str
    php_version: str
    pool: str | None
    sshd: str
    keys: bytes | None
    docroots: list[str]


@dataclass
class RebuildReport:
    accounts: int = 0
    changes: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    checks: dict[str, int] = field(default_factory=dict)


def docroots(config: UserConfig) -> list[str]:
    """Document roots relative to the home, primary first: public_html, then
    domains/<d>/public_html, then domains/<parent>/subdomains/<sub>."""
    d = config.domains
    return [
        "public_html",
        *(a.docroot for a in d.addon_domains),
        *(s.docroot for s in d.subdomains),
    ]


_checker: ThreadPoolExecutor | None = None
_checker_lock = threading.Lock()


def _check_pool() -> ThreadPoolExecutor:
    """Threads that wait on `nginx -t`, `php-fpm -t` and `sshd -t` (child processes, so
    the checks of one change run side by side and beside the account's own commands)."""
    global _checker
    with _checker_lock:
        if _checker is None:
            _checker = ThreadPoolExecutor(max_workers=4, thread_name_prefix="config-check")
        return _checker


def background(fn: Callable[..., T], *args: Any) -> Future[T]:
    """Run `fn` on the check threads (work that waits on a child process or on C code
    that releases the GIL, overlapped with an op's own steps)."""
    return _check_pool().submit(fn, *args)


CheckKey = tuple[str, tuple[tuple[str, str], ...]]


def _check_key(family: ConfigFamily, candidates: Mapping[str, str]) -> CheckKey:
    return family.reload_key, tuple(sorted(candidates.items()))


class Hosting:
    """The web/PHP/SSH side of accounts, for one agent context."""

    def __init__(self, ctx: AgentContext) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.nginx = Nginx(ctx.settings, ctx.runner)
        self.sshd = Sshd(ctx.settings, ctx.runner)
        self.reloader: Reloader = reloader_for(ctx.settings, ctx.runner)
        self._php: dict[str, PhpFpm] = {}
        self._web_uid: int | None = None
        self._wanted: dict[str, Wanted] = {}
        self._checks: dict[CheckKey, Future[None]] = {}

    def php(self, version: str) -> PhpFpm:
        if version not in self._php:
            self._php[version] = PhpFpm(self.settings, self.ctx.runner, version)
        return self._php[version]

    # --- what should be there -------------------------------------------------------------
    def wanted(self, config: UserConfig) -> Wanted:
        """Every file of the account, rendered once per config content (and per state of
        its bandwidth: over the quota with `block`, the vhost answers 509)."""
        over = bandwidth_blocked(self.settings, config)
        key = f"{config.content_revision()}:{over}"
        if key not in self._wanted:
            self._wanted[key] = self._render(config, over)
        return self._wanted[key]

    def _render(self, config: UserConfig, over_bandwidth: bool) -> Wanted:
        php = config.services.php
        pool_on = php.enabled and config.account.status == "active"
        fpm = self.php(php.version)
        keys = "".join(f"{k}\n" for k in config.ssh.authorized_keys)
        return Wanted(
            name=file_name(config.username),
            vhost=self.nginx.render_vhost(
                config, fpm.socket(config.username) if pool_on else None, over_bandwidth
            ),
            php_version=php.version,
            pool=fpm.render_pool(config) if pool_on else None,
            sshd=self.sshd.render_match(config),
            keys=keys.encode() if keys else None,
            docroots=docroots(config),
        )

    def web_uid(self) -> int:
        if self._web_uid is None:
            entry = self.ctx.accounts.get(WEB_USER)
            if entry is None:
                raise NotFound(f"the web server user {WEB_USER} does not exist", field="web_user")
            self._web_uid = entry.uid
        return self._web_uid

    # --- planning -------------------------------------------------------------------------
    def plan_changes(self, config: UserConfig, want: Wanted | None = None) -> list[Drift]:
        """What differs for one account; each Drift's fix brings that part in line."""
        want = want or self.wanted(config)
        name = config.username
        changes: list[Drift] = []
        problems = self.web_dir_problems(config, want)
        if problems:
            changes.append(
                Drift("web_dirs", "; ".join(problems), lambda: self.ensure_web_dirs(config, want))
            )
        for version, path in sorted(pool_files(self.settings, name).items()):
            if want.pool is None or version != want.php_version:
                changes.append(
                    Drift(
                        "php_pool_stale",
                        f"remove PHP {version} pool {path.name}",
                        partial(self.remove, self.php(version), [want.name]),
                    )
                )
        if want.pool is not None:
            fpm = self.php(want.php_version)
            if not fpm.is_current(want.name, want.pool):
                changes.append(
                    Drift(
                        "php_pool",
                        f"PHP {want.php_version} pool {want.name} {self._state(fpm, want.name)}",
                        lambda: self.install(fpm, {want.name: want.pool or ""}),
                    )
                )
        if not self.nginx.is_current(want.name, want.vhost):
            changes.append(
                Drift(
                    "vhost",
                    f"nginx vhost {want.name} {self._state(self.nginx, want.name)}",
                    lambda: self.install(self.nginx, {want.name: want.vhost}),
                )
            )
        if not self.sshd.is_current(want.name, want.sshd):
            changes.append(
                Drift(
                    "sshd_match",
                    f"sshd Match block {want.name} {self._state(self.sshd, want.name)}",
                    lambda: self.install(self.sshd, {want.name: want.sshd}),
                )
            )
        keys_problem = self.keys_problem(config, want)
        if keys_problem:
            changes.append(
                Drift("authorized_keys", keys_problem, lambda: self.write_keys(config, want))
            )
        return changes

    @staticmethod
    def _state(family: ConfigFamily, name: str) -> str:
        return "is outdated" if family.read_live(name) is not None else "is missing"

    # --- checks started ahead -------------------------------------------------------------
    def start_checks(self, config: UserConfig, *, with_pool: bool) -> None:
        """Start checking the account's files that differ from the live ones, in the
        background; `install` then waits for the check of exactly what it activates.

        The PHP pool names the account's Linux user, so php-fpm can only check it once
        the user exists (`with_pool`); nginx and sshd can be checked before.
        """
        want = self.wanted(config)
        candidates: list[tuple[ConfigFamily, dict[str, str]]] = [
            (self.nginx, {want.name: want.vhost}),
            (self.sshd, {want.name: want.sshd}),
        ]
        if with_pool and want.pool is not None:
            candidates.append((self.php(want.php_version), {want.name: want.pool}))
        for family, files in candidates:
            key = _check_key(family, files)
            if key in self._checks or all(family.is_current(n, c) for n, c in files.items()):
                continue
            self._checks[key] = background(self._check, family, files)

    @staticmethod
    def _check(family: ConfigFamily, candidates: dict[str, str]) -> None:
        family.ensure_base()
        family.check(candidates)

    # --- generated files ------------------------------------------------------------------
    def install(self, family: ConfigFamily, candidates: dict[str, str]) -> None:
        """Check `candidates` with the real binary (or wait for the check started ahead),
        then swap them in and mark a reload."""
        started = self._checks.pop(_check_key(family, candidates), None)
        if started is not None:
            started.result()  # the check's own CommandFailed, if it refused them
        else:
            self._check(family, candidates)
        for name, content in candidates.items():
            family.activate(name, content)
        self.reloader.mark(family.reload_key)

    def remove(self, family: ConfigFamily, names: Iterable[str]) -> bool:
        removed = False
        for name in names:
            removed = family.deactivate(name) or removed
        if removed:
            self.reloader.mark(family.reload_key)
        return removed

    def families(self) -> list[ConfigFamily]:
        """nginx, sshd and every PHP version that has a pool directory under ROOT."""
        php_root = self.settings.path("etc/php")
        versions = sorted(p.parent.parent.name for p in php_root.glob("*/fpm/pool.d"))
        return [self.nginx, self.sshd, *(self.php(v) for v in versions)]

    def remove_account(self, username: str) -> list[str]:
        """Take every generated file of `username` out of service (delete, undo of create)."""
        name = file_name(username)
        removed = []
        for family in self.families():
            if self.remove(family, [name]):
                removed.append(f"{family.reload_key}: removed {name}")
        return removed

    def orphans(self, known: set[str]) -> list[Drift]:
        """Generated files whose account does not exist."""
        changes = []
        for family in self.families():
            names = {n for n in _listdir(family.live_dir) if FILE_RE.fullmatch(n)}
            names |= set(family.live_names())
            for name in sorted(names):
                if username_of(name) not in known:
                    changes.append(
                        Drift(
                            "orphan",
                            f"{family.reload_key}: remove {name} (no such account)",
                            partial(self.remove, family, [name]),
                        )
                    )
        return changes

    # --- document roots and permissions ---------------------------------------------------
    def web_dir_problems(self, config: UserConfig, want: Wanted) -> list[str]:
        home = self.settings.home_of(config.username)
        uid = self.web_uid()
        try:
            with homefiles.open_home(home) as home_fd:
                problems = []
                if not homefiles.has_user_grant(home_fd, uid, TRAVERSE):
                    problems.append(f"{WEB_USER} cannot traverse the home")
                blocked: set[str] = set()
                for relative in want.docroots:
                    blocker = homefiles.find_blocker(home_fd, relative)
                    if blocker is not None:
                        if blocker.path not in blocked:  # `domains` may block several
                            blocked.add(blocker.path)
                            problems.append(_blocker_problem(relative, blocker))
                        continue
                    try:
                        with homefiles.open_subdir(home_fd, relative) as fd:
                            if not (
                                homefiles.has_user_grant(fd, uid, READ_TRAVERSE)
                                and homefiles.has_user_grant(fd, uid, READ_TRAVERSE, default=True)
                            ):
                                problems.append(f"{WEB_USER} cannot read {relative}")
                    except FileNotFoundError:
                        problems.append(f"document root {relative} is missing")
                    except UnsafePath:  # became a link since find_blocker looked
                        problems.append(
                            f"document root {relative} is a symlink or not a directory: "
                            "replaced by a directory"
                        )
                for relative, _mode in PRIVATE_DIRS:
                    try:
                        with homefiles.open_subdir(home_fd, relative):
                            pass
                    except FileNotFoundError:
                        problems.append(f"{relative}/ is missing")
                    except UnsafePath:
                        continue
                return problems
        except FileNotFoundError:
            return ["document roots are missing (no home)"]

    def ensure_web_dirs(self, config: UserConfig, want: Wanted) -> None:
        """Create missing document roots (owned by the account) and grant the web server."""
        account = config.account
        owner = (account.uid, account.gid)
        uid = self.web_uid()
        with homefiles.open_home(self.settings.home_of(config.username)) as home_fd:
            homefiles.grant_user(home_fd, uid, TRAVERSE)
            for relative in want.docroots:
                try:
                    # A symlink (or a file) in place of a document root or of one of its
                    # parents goes first: removed, never followed; a file is moved aside.
                    blocker = homefiles.find_blocker(home_fd, relative)
                    if blocker is not None:
                        aside = homefiles.clear_blocker(home_fd, blocker)
                        log.info(  # a repair, reported as progress (jopanel.logs)
                            "%s: repaired %s (was %s: %s)",
                            config.username,
                            blocker.path,
                            blocker.describe(),
                            f"moved to {aside}" if aside else "removed",
                            extra=PROGRESS,
                        )
                    new = not homefiles.exists_at(home_fd, relative)
                    with homefiles.open_subdir(home_fd, relative, create=True, owner=owner) as fd:
                        homefiles.grant_user(fd, uid, READ_TRAVERSE)
                        homefiles.grant_user(fd, uid, READ_TRAVERSE, default=True)
                        if new:
                            self._welcome_page(fd, owner)
                except UnsafePath as exc:
                    log.warning("%s: not touching %s: %s", config.username, relative, exc)
            for relative, mode in PRIVATE_DIRS:
                try:
                    with homefiles.open_subdir(
                        home_fd, relative, create=True, owner=owner, mode=mode
                    ):
                        pass
                except UnsafePath as exc:
                    log.warning("%s: not touching %s: %s", config.username, relative, exc)

    def _welcome_page(self, docroot_fd: int, owner: tuple[int, int]) -> None:
        """A new document root starts with the skeleton's index.html, as public_html does."""
        try:
            page = (self.settings.skel_dir / "public_html/index.html").read_bytes()
        except FileNotFoundError:
            return
        homefiles.write_file_at(docroot_fd, "index.html", page, owner=owner, mode=0o644)

    # --- authorized_keys ------------------------------------------------------------------
    def keys_problem(self, config: UserConfig, want: Wanted) -> str | None:
        account = config.account
        try:
            with (
                homefiles.open_home(self.settings.home_of(config.username)) as home_fd,
                homefiles.open_subdir(home_fd, ".ssh") as ssh_fd,
            ):
                state = homefiles.read_file_at(ssh_fd, "authorized_keys")
        except (FileNotFoundError, UnsafePath):
            state = None
        if want.keys is None:
            return "authorized_keys holds keys ssh.json does not list" if state else None
        if state is None:
            return "authorized_keys is missing"
        if state.content != want.keys:
            return "authorized_keys differs from ssh.json"
        if (state.uid, state.gid, state.mode) != (account.uid, account.gid, 0o600):
            return f"authorized_keys is {state.uid}:{state.gid} {state.mode:o}, want 0600 owner"
        return None

    def write_keys(self, config: UserConfig, want: Wanted) -> None:
        account = config.account
        owner = (account.uid, account.gid)
        try:
            with (
                homefiles.open_home(self.settings.home_of(config.username)) as home_fd,
                homefiles.open_subdir(home_fd, ".ssh", create=True, owner=owner, mode=0o700) as fd,
            ):
                os.fchown(fd, *owner)
                os.fchmod(fd, 0o700)
                if want.keys is None:
                    homefiles.remove_file_at(fd, "authorized_keys")
                else:
                    homefiles.write_file_at(
                        fd, "authorized_keys", want.keys, owner=owner, mode=0o600
                    )
        except UnsafePath as exc:
            raise Conflict(
                f"~/.ssh of {config.username} is a symlink or a file; not following it ({exc})",
                field="ssh",
            ) from None

    # --- many accounts at once ------------------------------------------------------------
    def rebuild(self, configs: list[UserConfig], *, dry_run: bool) -> RebuildReport:
        """Bring many accounts in line with one check per family."""
        report = RebuildReport(accounts=len(configs))
        wanted = [(config, self.wanted(config)) for config in configs]
        batches: dict[str, tuple[ConfigFamily, dict[str, str]]] = {}
        removals: list[Drift] = []
        owners: dict[str, str] = {}

        def stage(family: ConfigFamily, name: str, content: str, username: str) -> None:
            batches.setdefault(family.reload_key, (family, {}))[1][name] = content
            owners[f"{family.reload_key}/{name}"] = username
            report.changes.append(f"{username}: {family.reload_key} {name}")

        for config, want in wanted:
            username = config.username
            staged_files: dict[str, tuple[ConfigFamily, str | None]] = {
                "php_pool": (self.php(want.php_version), want.pool),
                "vhost": (self.nginx, want.vhost),
                "sshd_match": (self.sshd, want.sshd),
            }
            for change in self.plan_changes(config, want):
                family, content = staged_files.get(change.kind, (None, None))
                if family is not None and content is not None:
                    stage(family, want.name, content, username)
                elif change.kind == "php_pool_stale":
                    removals.append(change)
                else:  # document roots, ACLs, authorized_keys: no check to batch
                    report.changes.append(f"{username}: {change.detail}")
                    if not dry_run:
                        change.fix()
        report.changes += [c.detail for c in removals]
        if dry_run:
            return report
        for key, (family, candidates) in batches.items():
            for name, error in self._install_batch(family, candidates, report).items():
                report.failed[owners[f"{key}/{name}"]] = error
        for change in removals:
            change.fix()
        return report

    def _install_batch(
        self, family: ConfigFamily, candidates: dict[str, str], report: RebuildReport
    ) -> dict[str, str]:
        """Install all candidates after one check; on failure, find and skip the bad ones."""
        family.ensure_base()
        report.checks[family.reload_key] = report.checks.get(family.reload_key, 0) + 1
        try:
            family.check(candidates)
        except (CommandFailed, ValidationFailed):
            good, failed = {}, {}
            for name, content in candidates.items():
                report.checks[family.reload_key] += 1
                try:
                    family.check({name: content})
                except JoPanelError as exc:
                    failed[name] = str(exc)
                else:
                    good[name] = content
            candidates = good
        else:
            failed = {}
        for name, content in candidates.items():
            family.activate(name, content)
        if candidates:
            self.reloader.mark(family.reload_key)
        return failed


def _blocker_problem(relative: str, blocker: homefiles.Blocker) -> str:
    """`document root public_html is a symlink: replaced by a directory`, and the like."""
    fix = "replaced by a directory" if blocker.symlink else "moved aside for a directory"
    if blocker.path == relative:
        return f"document root {relative} is {blocker.describe()}: {fix}"
    return f"document root {relative}: {blocker.path} is {blocker.describe()}: {fix}"


def _listdir(path: Path) -> list[str]:
    try:
        return os.listdir(path)
    except FileNotFoundError:
        return []


# --- entry points for the account lifecycle (users.py, converge.py) ---------------------


def install_account(
    ctx: AgentContext, config: UserConfig, hosting: Hosting | None = None
) -> list[str]:
    """Bring one account's services in line; if that fails, take them all out again.

    For a new account (create_user) a half-installed set must not stay behind. The
    checks of every file that changes run side by side (`hosting` may have started some
    already, before the Linux user existed).
    """
    hosting = hosting or Hosting(ctx)
    done = []
    try:
        hosting.start_checks(config, with_pool=ctx.accounts.get(config.username) is not None)
        for change in hosting.plan_changes(config):
            change.fix()
            done.append(change.detail)
    except BaseException:
        hosting.remove_account(config.username)
        raise
    return done


def remove_account(ctx: AgentContext, username: str) -> list[str]:
    return Hosting(ctx).remove_account(username)


def prune_orphans(ctx: AgentContext, *, dry_run: bool) -> list[str]:
    """Remove generated files of accounts that do not exist (reconcile of every account)."""
    known = set(ctx.store.list_usernames())
    changes = Hosting(ctx).orphans(known) + orphan_certs(ctx, known)
    if not dry_run:
        for change in changes:
            change.fix()
    return [change.detail for change in changes]
