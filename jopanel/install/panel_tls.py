"""The panel's own certificate: self-signed at install (ROOT/etc/jopanel/tls, root-only),
so the panel answers over HTTPS before any ACME certificate exists."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ..settings import Settings
from .files import put_dir, put_file

VALID_DAYS = 825  # the longest lifetime browsers accept for a server certificate


def tls_dir(settings: Settings) -> Path:
    return settings.etc_dir / "tls"


def panel_cert(settings: Settings) -> tuple[Path, Path]:
    """(certificate, key) the panel's nginx block serves."""
    return tls_dir(settings) / "panel.crt", tls_dir(settings) / "panel.key"


def self_signed(hostname: str, days: int = VALID_DAYS) -> tuple[bytes, bytes]:
    """A P-256 key and a certificate for `hostname`, localhost and 127.0.0.1 (PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = dt.datetime.now(dt.UTC)
    names: list[x509.GeneralName] = [x509.DNSName(hostname)]
    if hostname != "localhost":
        names.append(x509.DNSName("localhost"))
    names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def ensure_panel_cert(settings: Settings, hostname: str | None) -> list[str]:
    """A self-signed certificate when there is none (an existing one, e.g. ACME's, stays)."""
    done: list[str] = []
    cert, key = panel_cert(settings)
    if put_dir(tls_dir(settings), 0o700):
        done.append(f"created {tls_dir(settings)}")
    if not (cert.is_file() and key.is_file()):
        cert_pem, key_pem = self_signed(hostname or "localhost")
        put_file(key, key_pem, 0o600)
        put_file(cert, cert_pem, 0o644)
        done.append(f"generated a self-signed certificate {cert}")
    return done


def not_after(path: Path) -> dt.datetime:
    """When the certificate at `path` expires (UTC)."""
    return x509.load_pem_x509_certificate(path.read_bytes()).not_valid_after_utc
