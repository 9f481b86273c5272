"""`jopanel ssl …`: certificates of sites (ACME or uploaded), renewal, status.

DOMAIN is a site (primary, addon or subdomain); its account is found from the domain
claims unless `--user` names it. `ssl renew` is safe to run from a timer: it renews only
what expires within `--within` days (30) and respects each site's backoff.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import NotFound, ValidationFailed
from .domains import DryRun
from .output import emit, state_of
from .users import _result

app = typer.Typer(help="HTTPS certificates of sites.", no_args_is_help=True)

User = Annotated[str | None, typer.Option("--user", help="the account (default: the owner)")]
Redirect = Annotated[
    bool | None, typer.Option("--redirect/--no-redirect", help="HTTP -> HTTPS (301)")
]
Hsts = Annotated[bool | None, typer.Option("--hsts/--no-hsts", help="Strict-Transport-Security")]
COLUMNS = ["username", "domain", "mode", "status", "serving", "not_after", "days_left", "names"]


def _owner(ctx: typer.Context, domain: str, user: str | None) -> str:
    if user:
        return user
    owners = state_of(ctx).agent.execute("domain_owners", {"domains": [domain.lower()]}).data
    owner = owners.get(domain.lower())
    if owner is None:
        raise NotFound(f"no account serves {domain}", field="domain")
    return str(owner)


def _read(path: Path | None, what: str) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationFailed(f"cannot read the {what} file: {exc}", field=what) from None


def _options(redirect: bool | None, hsts: bool | None) -> dict[str, Any]:
    return {"redirect": redirect, "hsts": hsts}


@app.command("issue")
def ssl_issue(
    ctx: typer.Context,
    domain: str,
    user: User = None,
    force: Annotated[bool, typer.Option("--force", help="order before the backoff ends")] = False,
    redirect: Redirect = None,
    hsts: Hsts = None,
    dry_run: DryRun = False,
) -> None:
    """Get a certificate from the ACME CA (HTTP-01) for the site and its www/alias names."""
    payload = {"username": _owner(ctx, domain, user), "domain": domain, "force": force}
    payload |= _options(redirect, hsts)
    _result(ctx, "ssl_issue", payload, f"certificate issued for {domain}", dry_run)


@app.command("upload")
def ssl_upload(
    ctx: typer.Context,
    domain: str,
    cert: Annotated[Path, typer.Option("--cert", help="certificate PEM (may hold the chain)")],
    key: Annotated[Path, typer.Option("--key", help="unencrypted private key PEM")],
    chain: Annotated[Path | None, typer.Option("--chain", help="intermediates PEM")] = None,
    user: User = None,
    redirect: Redirect = None,
    hsts: Hsts = None,
    dry_run: DryRun = False,
) -> None:
    """Serve an uploaded certificate, refused with the reason when it does not fit."""
    payload = {
        "username": _owner(ctx, domain, user),
        "domain": domain,
        "certificate": _read(cert, "certificate"),
        "key": _read(key, "key"),
        "chain": _read(chain, "chain"),
    } | _options(redirect, hsts)
    _result(ctx, "ssl_upload", payload, f"certificate installed for {domain}", dry_run)


@app.command("set")
def ssl_set(
    ctx: typer.Context,
    domain: str,
    user: User = None,
    redirect: Redirect = None,
    hsts: Hsts = None,
    dry_run: DryRun = False,
) -> None:
    """Turn the site's HTTP -> HTTPS redirect or HSTS on or off."""
    payload = {"username": _owner(ctx, domain, user), "domain": domain}
    payload |= _options(redirect, hsts)
    _result(ctx, "ssl_options", payload, f"options of {domain} set", dry_run)


@app.command("off")
def ssl_off(ctx: typer.Context, domain: str, user: User = None, dry_run: DryRun = False) -> None:
    """Serve the site over HTTP only; its certificate is revoked (ACME) and removed."""
    payload = {"username": _owner(ctx, domain, user), "domain": domain}
    _result(ctx, "ssl_off", payload, f"HTTPS off for {domain}", dry_run)


@app.command("status")
def ssl_status(
    ctx: typer.Context,
    domain: Annotated[str | None, typer.Argument(help="one site (default: all)")] = None,
    user: User = None,
) -> None:
    """Every site's certificate (or one site's): mode, status, expiry, last error."""
    state = state_of(ctx)
    payload: dict[str, Any] = {}
    if domain is not None:
        payload = {"username": _owner(ctx, domain, user), "domain": domain}
    elif user:
        payload = {"username": user}
    rows = state.agent.execute("ssl_status", payload).data
    if not state.as_json:
        rows = [{**r, "names": ", ".join(r["names"])} for r in rows]
    columns = COLUMNS + (["last_error", "next_try"] if domain else [])
    emit(state, rows, columns=columns)


@app.command("renew")
def ssl_renew(
    ctx: typer.Context,
    within: Annotated[int, typer.Option("--within", help="days before expiry", min=1)] = 30,
    user: User = None,
    force: Annotated[bool, typer.Option("--force", help="ignore the backoff")] = False,
    dry_run: DryRun = False,
) -> None:
    """Renew ACME certificates expiring within --within days (safe from a timer)."""
    state = state_of(ctx)
    payload: dict[str, Any] = {"within_days": within, "force": force}
    if user:
        payload["username"] = user
    result = state.agent.execute("ssl_renew", payload, dry_run=dry_run)
    if not result.data and not state.as_json:
        emit(state, None, message="no ACME certificate to look at")
        return
    emit(state, result.data, columns=["username", "domain", "result", "detail"])
    if any(r["result"] == "failed" for r in result.data):
        raise typer.Exit(4)
