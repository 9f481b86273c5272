"""An ACME certificate for the panel's hostname, in place of the self-signed one.

Sought when the hostname resolves to an address of this machine (or when asked); the
HTTP-01 token is served by the panel's own port-80 server block for that name. A failure
keeps the certificate the panel has and says why; it never fails the install.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
from collections.abc import Callable

from cryptography import x509

from .. import validate
from ..agent.acme_client import AcmeAccount, AcmeFailed, new_key_pem
from ..errors import JoPanelError
from ..settings import Settings
from .files import put_file
from .panel_tls import not_after, panel_cert

RENEW_BEFORE = dt.timedelta(days=30)


def panel_hostname(settings: Settings) -> str | None:
    """The configured name, else (on the real root) the machine's FQDN; None when there
    is no usable hostname."""
    candidate = settings.panel_hostname or ("" if settings.is_sandbox else socket.getfqdn())
    try:
        return validate.domain(candidate, field="panel_hostname")
    except JoPanelError:
        if settings.panel_hostname:
            raise
        return None


def resolves_here(hostname: str) -> bool:
    """Whether `hostname` resolves to a (non-loopback) address this machine can bind."""
    try:
        infos = socket.getaddrinfo(hostname, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return False
    for family, _type, _proto, _name, address in infos:
        if ipaddress.ip_address(address[0]).is_loopback:
            continue
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((address[0], 0))
            except OSError:
                continue
            return True
    return False


def needs_certificate(settings: Settings) -> bool:
    """No certificate, a self-signed one, or one that expires within RENEW_BEFORE."""
    cert_path, _key = panel_cert(settings)
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError):
        return True
    if cert.issuer == cert.subject:
        return True
    return not_after(cert_path) - dt.datetime.now(dt.UTC) < RENEW_BEFORE


def ensure_panel_acme(settings: Settings, hostname: str, reload: Callable[[], None]) -> list[str]:
    """Obtain and install a certificate for `hostname` when the panel needs one."""
    if not needs_certificate(settings):
        return []
    key_pem = new_key_pem()
    try:
        chain = AcmeAccount(settings).obtain([hostname], key_pem)  # nginx reloaded already
    except (AcmeFailed, JoPanelError, OSError) as exc:
        return [f"kept the panel's current certificate: ACME for {hostname} failed: {exc}"]
    cert_path, key_path = panel_cert(settings)
    put_file(key_path, key_pem, 0o600)
    put_file(cert_path, chain, 0o644)
    reload()
    return [f"installed an ACME certificate for {hostname} on the panel"]
