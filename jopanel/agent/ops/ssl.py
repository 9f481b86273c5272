"""Certificate ops: issue (ACME), upload (custom), options, off, status, renew.

A site is the primary domain (its www name and aliases ride on its certificate), an
addon domain (with its www name) or a subdomain; `domain` always names the site. Keys
arrive only in `ssl_upload`'s payload and leave the agent never: no answer, journal line
or error message holds one.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import Field

from ...errors import Conflict, ValidationFailed
from ...schemas import UserConfig
from ...schemas.base import Domain, Username
from ...schemas.hosting import Tls
from ...system import certcheck
from ...system.certs import CertStore
from ...system.reload import reloader_for
from ..acme_client import AcmeAccount, AcmeFailed, new_key_pem
from ..context import Call
from ..registry import OpResult, Payload, op
from ..tls import install, now, parse_iso, record_failure, site_names, with_tls
from ..transaction import change_account

RENEW_BATCH = 50  # renewals per nginx reload in one `ssl_renew` run
Pem = Annotated[str, Field(min_length=1, max_length=certcheck.MAX_PEM_BYTES)]


class SslIssue(Payload):
    username: Username
    domain: Domain
    redirect: bool | None = None
    hsts: bool | None = None
    force: bool = False  # order even before `next_try` (an administrator's choice)


class SslUpload(Payload):
    username: Username
    domain: Domain
    certificate: Pem
    key: Pem
    chain: Annotated[str, Field(max_length=certcheck.MAX_PEM_BYTES)] | None = None
    redirect: bool | None = None
    hsts: bool | None = None


class SslRef(Payload):
    username: Username
    domain: Domain


class SslOptions(Payload):
    username: Username
    domain: Domain
    redirect: bool | None = None
    hsts: bool | None = None


class SslQuery(Payload):
    username: Username | None = None
    domain: Domain | None = None


class SslRenew(Payload):
    username: Username | None = None
    within_days: int = Field(30, ge=1, le=3650)
    force: bool = False


def _issue(call: Call, p: SslIssue, action: str) -> OpResult:
    ctx = call.ctx
    config = ctx.store.read(p.username)
    names = site_names(config, p.domain)
    tls = config.domains.tls_of(p.domain)
    next_try = parse_iso(tls.next_try)
    if not p.force and next_try is not None and next_try > now():
        raise Conflict(
            f"{p.domain}: {tls.failures} failed orders; next try after {tls.next_try} "
            f"(last error: {tls.last_error})",
            field="domain",
        )
    plan = [f"order a certificate for {', '.join(names)} from {ctx.settings.acme_directory}"]
    if call.dry_run:
        return OpResult(changed=False, plan=plan)
    key = new_key_pem()
    try:
        # A vhost change still waiting for its coalesced reload would answer 404 to the CA.
        reloader = reloader_for(ctx.settings, ctx.runner)
        acme = AcmeAccount(ctx.settings, flush_nginx=lambda: "nginx" in reloader.flush())
        fullchain = acme.obtain(names, key)
        info = certcheck.check(fullchain, key, None, names)
    except (AcmeFailed, ValidationFailed) as exc:
        recorded = record_failure(call, p.username, p.domain, "acme", str(exc))
        kept = " (the certificate in service stays)" if recorded.status == "active" else ""
        raise Conflict(
            f"no certificate for {p.domain}: {exc}{kept}; next try after {recorded.next_try}",
            field="domain",
        ) from None
    result = install(
        call, p.username, p.domain, "acme", fullchain, key, info,
        action=action, redirect=p.redirect, hsts=p.hsts,
    )  # fmt: skip
    result.plan = plan + result.plan
    result.data = status_row(call, ctx.store.read(p.username), p.domain)
    return result


@op("ssl_issue", SslIssue)
def ssl_issue(call: Call, p: SslIssue) -> OpResult:
    return _issue(call, p, "ssl_issue")


@op("ssl_upload", SslUpload)
def ssl_upload(call: Call, p: SslUpload) -> OpResult:
    config = call.ctx.store.read(p.username)
    names = site_names(config, p.domain)
    cert, key = p.certificate.encode(), p.key.encode()
    chain = p.chain.encode() if p.chain else None
    info = certcheck.check(cert, key, chain, names)
    plan = [f"serve the uploaded certificate for {', '.join(names)} (issuer {info.issuer})"]
    if call.dry_run:
        return OpResult(changed=False, plan=plan)
    fullchain = cert.rstrip(b"\n") + b"\n" + (chain.rstrip(b"\n") + b"\n" if chain else b"")
    result = install(
        call, p.username, p.domain, "custom", fullchain, key, info,
        action="ssl_upload", redirect=p.redirect, hsts=p.hsts,
    )  # fmt: skip
    result.data = status_row(call, call.ctx.store.read(p.username), p.domain)
    return result


@op("ssl_options", SslOptions)
def ssl_options(call: Call, p: SslOptions) -> OpResult:
    """HTTP -> HTTPS redirect and HSTS of a site (they apply once a certificate is served)."""

    def mutate(config: UserConfig) -> UserConfig:
        site_names(config, p.domain)
        old = config.domains.tls_of(p.domain)
        update: dict[str, Any] = {}
        if p.redirect is not None:
            update["redirect"] = p.redirect
        if p.hsts is not None:
            update["hsts"] = p.hsts
        return with_tls(config, p.domain, old.model_copy(update=update))

    result = change_account(call, p.username, "ssl_options", mutate)
    if not call.dry_run:
        result.data = status_row(call, call.ctx.store.read(p.username), p.domain)
    return result


@op("ssl_off", SslRef)
def ssl_off(call: Call, p: SslRef) -> OpResult:
    """HTTP only again; the certificate is revoked (ACME) and removed by the converge."""

    def mutate(config: UserConfig) -> UserConfig:
        site_names(config, p.domain)
        return with_tls(config, p.domain, Tls())

    result = change_account(call, p.username, "ssl_off", mutate)
    if not call.dry_run:
        result.data = status_row(call, call.ctx.store.read(p.username), p.domain)
    return result


def status_row(call: Call, config: UserConfig, domain: str) -> dict[str, Any]:
    d = config.domains
    names = d.site_names(domain) or [domain]
    tls = d.tls_of(domain)
    cert = CertStore(call.ctx.settings).current(domain)
    served = (
        call.ctx.settings.https_enabled
        and tls.mode != "off"
        and cert is not None
        and cert.owner == config.username
        and cert.valid_for(names)
    )
    expiry = parse_iso(tls.not_after)
    return {
        "username": config.username,
        "domain": domain,
        "names": names,
        "mode": tls.mode,
        "status": tls.status,
        "serving": served,
        "issuer": tls.issuer,
        "not_after": tls.not_after,
        "days_left": (expiry - now()).days if expiry else None,
        "redirect": tls.redirect,
        "hsts": tls.hsts,
        "last_error": tls.last_error,
        "failures": tls.failures,
        "next_try": tls.next_try,
    }


def sites(config: UserConfig) -> list[str]:
    d = config.domains
    return [d.primary, *(a.domain for a in d.addon_domains), *(s.fqdn for s in d.subdomains)]


@op("ssl_status", SslQuery, reads_only=True)
def ssl_status(call: Call, p: SslQuery) -> OpResult:
    store = call.ctx.store
    users = [p.username] if p.username else store.list_usernames()
    rows = []
    for name in users:
        config = store.read(name)
        if p.domain is not None:
            site_names(config, p.domain)
            rows.append(status_row(call, config, p.domain))
        else:
            rows += [status_row(call, config, s) for s in sites(config)]
    return OpResult(changed=False, data=rows)


def renewal_due(call: Call, config: UserConfig, domain: str, within: dt.timedelta) -> str | None:
    """Why the ACME certificate of `domain` needs renewing, or None."""
    names = config.domains.site_names(domain) or []
    cert = CertStore(call.ctx.settings).current(domain)
    if cert is None or cert.owner != config.username:
        return "no certificate yet"
    if not all(any(certcheck.covers(c, n) for c in cert.names) for n in names):
        return "the site's names changed"
    if cert.not_after - now() <= within:
        return f"expires {cert.not_after:%Y-%m-%d}"
    return None


@op("ssl_renew", SslRenew)
def ssl_renew(call: Call, p: SslRenew) -> OpResult:
    """Renew every ACME certificate due within `within_days` (or whose site's names
    changed); idempotent, so a timer may run it daily. One failing site does not stop
    the others; each one's outcome is a row."""
    store = call.ctx.store
    within = dt.timedelta(days=p.within_days)
    rows: list[dict[str, Any]] = []
    plan: list[str] = []
    changed = False
    renewed = 0
    reloader = reloader_for(call.ctx.settings, call.ctx.runner)
    # One nginx reload per batch, not per certificate: the old certificates stay valid
    # (and served) until the batch's reload.
    with reloader.held():
        for name in [p.username] if p.username else store.list_usernames():
            config = store.read(name)
            for domain, tls in sorted(config.domains.tls.items()):
                if tls.mode != "acme" or config.domains.site_names(domain) is None:
                    continue
                row = {"username": name, "domain": domain, "result": "not_due", "detail": ""}
                rows.append(row)
                why = renewal_due(call, config, domain, within)
                if why is None:
                    continue
                next_try = parse_iso(tls.next_try)
                if not p.force and next_try is not None and next_try > now():
                    row.update(result="waiting", detail=f"{why}; next try after {tls.next_try}")
                    continue
                try:
                    done = _issue(
                        call, SslIssue(username=name, domain=domain, force=True), "ssl_renew"
                    )
                except Conflict as exc:
                    row.update(result="failed", detail=str(exc))
                    changed = True
                    continue
                row.update(result="planned" if call.dry_run else "renewed", detail=why)
                plan += [f"{name}: {domain}: {step}" for step in done.plan]
                changed = changed or done.changed
                renewed += 1
                if renewed % RENEW_BATCH == 0:
                    reloader.flush()
    return OpResult(changed=changed, plan=plan, data=rows)
