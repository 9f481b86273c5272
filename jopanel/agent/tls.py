"""Putting a certificate in service, recording failures, and cleaning up after sites.

`install`: the certificate is checked (jopanel/system/certcheck.py), written into its
own version directory, `current` is swapped to it, and the account's change flow records
the new `tls` state in domains.json and converges (vhost with its HTTPS block checked by
`nginx -t`, coalesced reload). If that flow fails, `current` goes back to the previous
certificate and the account is converged again: a working site never loses its
certificate to a failed change.

`record_failure`: the reason, the count and the next allowed try (exponential backoff,
one hour doubling up to a day) go into domains.json; a certificate in service stays.

Cleaning up after removed sites and accounts: jopanel/agent/cert_drift.py.
"""

from __future__ import annotations

import datetime as dt
import logging

from ..errors import NotFound
from ..schemas import UserConfig
from ..schemas.hosting import Tls
from ..system.certcheck import CertInfo
from ..system.certs import CertStore
from ..system.reload import reloader_for
from .context import Call
from .converge import converge
from .registry import OpResult
from .transaction import change_account

log = logging.getLogger("jopanel.agent.tls")

BACKOFF_FIRST = dt.timedelta(hours=1)
BACKOFF_MAX = dt.timedelta(days=1)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


def site_names(config: UserConfig, domain: str) -> list[str]:
    """The names a site's certificate must cover; NotFound when `domain` is not a site."""
    names = config.domains.site_names(domain)
    if names is None:
        d = config.domains
        if domain in d.all_names() or domain in d.www_names():
            raise NotFound(
                f"{domain} rides on its site's certificate (an alias or www name); "
                "manage the certificate of the site it belongs to",
                field="domain",
            )
        raise NotFound(f"{domain} is not a domain of this account", field="domain")
    return names


def with_tls(config: UserConfig, domain: str, tls: Tls) -> UserConfig:
    d = config.domains
    entries = {k: v for k, v in d.tls.items() if d.site_names(k) is not None and k != domain}
    if tls != Tls():
        entries[domain] = tls
    return config.with_(domains=d.model_copy(update={"tls": entries}))


def install(
    call: Call,
    username: str,
    domain: str,
    mode: str,
    fullchain: bytes,
    key: bytes,
    info: CertInfo,
    *,
    action: str,
    redirect: bool | None = None,
    hsts: bool | None = None,
) -> OpResult:
    """Serve a checked certificate and record it (see the module docstring)."""
    ctx = call.ctx
    store = CertStore(ctx.settings)
    version = store.stage(domain, username, mode, fullchain, key, info)
    previous = store.activate(domain, version)

    def mutate(config: UserConfig) -> UserConfig:
        site_names(config, domain)  # still a site under the lock
        old = config.domains.tls_of(domain)
        tls = Tls(
            mode=mode,
            status="active",
            redirect=old.redirect if redirect is None else redirect,
            hsts=old.hsts if hsts is None else hsts,
            issuer=info.issuer,
            names=info.names,
            not_after=info.not_after_iso,
            serial=info.serial,
        )
        return with_tls(config, domain, tls)

    try:
        result = change_account(call, username, action, mutate)
    except BaseException:
        store.restore(domain, previous, failed=version)
        try:
            converge(ctx, ctx.store.read(username), dry_run=False)
        except Exception:  # the original failure is what the caller must see
            log.exception("%s: converging after a failed certificate change", username)
        raise
    # The vhost names `current/`, so a renewed certificate may leave it unchanged: nginx
    # still has to reload to read the new files (coalesced like every reload).
    reloader_for(ctx.settings, ctx.runner).mark("nginx")
    store.prune(domain)
    return result


def record_failure(call: Call, username: str, domain: str, mode: str, reason: str) -> Tls:
    """Note why an order failed and when the next may be tried; the old certificate stays."""
    recorded: list[Tls] = []

    def mutate(config: UserConfig) -> UserConfig:
        old = config.domains.tls_of(domain)
        failures = old.failures + 1
        wait = min(BACKOFF_FIRST * 2 ** (failures - 1), BACKOFF_MAX)
        cert = CertStore(call.ctx.settings).current(domain)
        serving = cert is not None and cert.owner == username and old.status == "active"
        tls = old.model_copy(
            update={
                "mode": mode,
                "status": "active" if serving else "failed",
                "last_error": reason[:2000],
                "failures": failures,
                "next_try": iso(now() + wait),
            }
        )
        recorded.append(tls)
        return with_tls(config, domain, tls)

    change_account(call, username, "ssl_failure", mutate)
    return recorded[0]
