"""Certificates no site wants any more: revoked (ACME) and removed.

`plan_certs` runs from plan_drift, so removing a domain, turning its certificate off or
changing the primary domain all converge the certificate store; `retire_account` runs
when an account is deleted.
"""

from __future__ import annotations

import logging

from ..schemas import UserConfig
from ..system.certs import CertStore, StoredCert
from .acme_client import AcmeAccount, AcmeFailed
from .context import AgentContext
from .drift import Drift

log = logging.getLogger("jopanel.agent.cert_drift")


def wanted_domains(config: UserConfig) -> set[str]:
    d = config.domains
    return {k for k, v in d.tls.items() if v.mode != "off" and d.site_names(k) is not None}


def retire(ctx: AgentContext, cert: StoredCert) -> str:
    """Revoke an ACME certificate (best effort: a CA that cannot be reached does not keep
    a deleted site's key around) and remove its files; what happened, in words."""
    note = ""
    if cert.mode == "acme":
        try:
            AcmeAccount(ctx.settings).revoke(cert.fullchain.read_bytes())
            note = "revoked, "
        except (AcmeFailed, OSError) as exc:
            log.warning("%s: revocation failed: %s", cert.domain, exc)
            note = f"not revoked ({exc}), "
    CertStore(ctx.settings).remove(cert.domain)
    return f"certificate of {cert.domain} {note}removed"


def plan_certs(ctx: AgentContext, config: UserConfig) -> list[Drift]:
    """Certificates of this account that no site in its config wants any more."""
    wanted = wanted_domains(config)
    return [
        Drift(
            "certificate",
            f"revoke and remove the certificate of {cert.domain} (no longer wanted)",
            lambda cert=cert: retire(ctx, cert),  # type: ignore[misc]
        )
        for cert in CertStore(ctx.settings).owned_by(config.username)
        if cert.domain not in wanted
    ]


def retire_account(ctx: AgentContext, username: str) -> list[str]:
    """Every certificate of a deleted account: revoked (ACME) and removed."""
    return [retire(ctx, cert) for cert in CertStore(ctx.settings).owned_by(username)]


def orphan_certs(ctx: AgentContext, known: set[str]) -> list[Drift]:
    """Certificates whose account does not exist (a delete that stopped half-way, files
    copied in by hand): revoked (ACME) and removed by reconcile of every account."""
    store = CertStore(ctx.settings)
    found = [store.current(domain) for domain in store.domains()]
    return [
        Drift(
            "orphan",
            f"certificate: revoke and remove {cert.domain} (no such account {cert.owner})",
            lambda cert=cert: retire(ctx, cert),  # type: ignore[misc]
        )
        for cert in found
        if cert is not None and cert.owner not in known
    ]
