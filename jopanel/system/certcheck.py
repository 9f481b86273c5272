"""Checks a certificate, its chain and its key before JoPanel serves them.

Used for uploaded (custom) certificates and again for every ACME certificate before it
is swapped in. Each refusal is a ValidationFailed with one plain reason; no message ever
quotes the key. What is checked:

- the key parses (unencrypted PEM) and is strong: RSA of 2048 bits or more, or EC on
  P-256, P-384 or P-521;
- the certificate's public key is the key's;
- the chain links: the certificate is signed by the chain's first certificate, each one
  by the next; every chain certificate is a CA and within its validity;
- the certificate's names (subjectAltName DNS entries; a wildcard covers one label)
  cover every name of the site;
- it is valid now and for more than a day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from ..errors import ValidationFailed

MIN_RSA_BITS = 2048
EC_CURVES = ("secp256r1", "secp384r1", "secp521r1")
MIN_VALID_LEFT = dt.timedelta(days=1)
MAX_PEM_BYTES = 256 * 1024


@dataclass(frozen=True)
class CertInfo:
    """What JoPanel records about a certificate (domains.json `tls`)."""

    names: list[str]
    not_after: dt.datetime
    issuer: str
    serial: str

    @property
    def not_after_iso(self) -> str:
        return self.not_after.strftime("%Y-%m-%dT%H:%M:%SZ")


def _pem_certs(pem: bytes, what: str) -> list[x509.Certificate]:
    if len(pem) > MAX_PEM_BYTES:
        raise ValidationFailed(f"the {what} is too large", field=what)
    try:
        return x509.load_pem_x509_certificates(pem)
    except ValueError:
        raise ValidationFailed(f"the {what} is not a PEM certificate", field=what) from None


def load_key(pem: bytes) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    """The private key, refused when it does not parse, is encrypted or is weak."""
    if len(pem) > MAX_PEM_BYTES:
        raise ValidationFailed("the key is too large", field="key")
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except TypeError:
        raise ValidationFailed("the key is encrypted: upload it without a passphrase",
                               field="key") from None  # fmt: skip
    except (ValueError, Exception):
        raise ValidationFailed("the key is not a PEM private key", field="key") from None
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < MIN_RSA_BITS:
            raise ValidationFailed(
                f"the key is weak: RSA {key.key_size} bits (at least {MIN_RSA_BITS})", field="key"
            )
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if key.curve.name not in EC_CURVES:
            raise ValidationFailed(
                f"the key is weak: EC curve {key.curve.name} (P-256, P-384 or P-521)", field="key"
            )
        return key
    raise ValidationFailed("the key type is not supported (RSA or EC only)", field="key")


def cert_names(cert: x509.Certificate) -> list[str]:
    """The DNS names a certificate is for (subjectAltName; the CN only without one)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        return [n.lower() for n in san.value.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return [str(cn.value).lower() for cn in cns]


def covers(pattern: str, name: str) -> bool:
    """Whether certificate name `pattern` matches hostname `name` (RFC 6125 wildcards:
    `*.example.com` covers exactly one label)."""
    if pattern.startswith("*."):
        head, _, rest = name.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == name


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _issuer_text(cert: x509.Certificate) -> str:
    parts = cert.issuer.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    parts += cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
    return ", ".join(str(p.value) for p in parts)[:500] or cert.issuer.rfc4514_string()[:500]


def info_of(cert: x509.Certificate) -> CertInfo:
    return CertInfo(
        names=cert_names(cert),
        not_after=cert.not_valid_after_utc,
        issuer=_issuer_text(cert),
        serial=format(cert.serial_number, "x"),
    )


def check(
    cert_pem: bytes,
    key_pem: bytes,
    chain_pem: bytes | None,
    names: list[str],
    *,
    now: dt.datetime | None = None,
) -> CertInfo:
    """Check a certificate (optionally followed by its chain in the same PEM), an extra
    chain and the key for a site answering on `names`; its facts, or ValidationFailed."""
    now = now or dt.datetime.now(dt.UTC)
    certs = _pem_certs(cert_pem, "certificate")
    if not certs:
        raise ValidationFailed("no certificate in the certificate file", field="certificate")
    leaf, chain = certs[0], certs[1:]
    if chain_pem and chain_pem.strip():
        chain += _pem_certs(chain_pem, "chain")
    key = load_key(key_pem)
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(*spki) != leaf.public_key().public_bytes(*spki):
        raise ValidationFailed("the key does not match the certificate", field="key")
    for child, parent in zip([leaf, *chain], chain, strict=False):
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature):
            raise ValidationFailed(
                f"the chain is broken: {child.subject.rfc4514_string()[:200]} is not signed by "
                f"{parent.subject.rfc4514_string()[:200]}",
                field="chain",
            ) from None
        if not _is_ca(parent):
            raise ValidationFailed(
                f"the chain is broken: {parent.subject.rfc4514_string()[:200]} is not a CA",
                field="chain",
            )
        if parent.not_valid_after_utc <= now:
            raise ValidationFailed("the chain holds an expired certificate", field="chain")
    patterns = cert_names(leaf)
    missing = [n for n in names if not any(covers(p, n) for p in patterns)]
    if missing:
        raise ValidationFailed(
            f"the certificate does not cover {', '.join(missing)} "
            f"(it is for {', '.join(patterns) or 'no name'})",
            field="certificate",
        )
    if leaf.not_valid_before_utc > now:
        raise ValidationFailed("the certificate is not valid yet", field="certificate")
    if leaf.not_valid_after_utc <= now:
        raise ValidationFailed("the certificate has expired", field="certificate")
    if leaf.not_valid_after_utc - now < MIN_VALID_LEFT:
        raise ValidationFailed("the certificate expires within a day", field="certificate")
    return info_of(leaf)


def fingerprint(cert_pem: bytes) -> str:
    return x509.load_pem_x509_certificate(cert_pem).fingerprint(hashes.SHA256()).hex()
