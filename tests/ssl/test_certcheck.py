"""Custom certificates: every refusal of jopanel/system/certcheck.py, with trustme/cryptography
certificates, and what a good one records."""

from __future__ import annotations

import datetime as dt

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from jopanel.errors import ValidationFailed
from jopanel.system import certcheck

NAMES = ["example.com", "www.example.com", "alias.example.org"]
NOW = dt.datetime.now(dt.UTC)


def leaf(ca: trustme.CA, *names: str, **kw: object) -> tuple[bytes, bytes, bytes]:
    """(certificate, chain, key) PEMs of a leaf issued by `ca` (chain: its intermediates)."""
    cert = ca.issue_cert(*names, **kw)  # type: ignore[arg-type]
    pems = [b.bytes() for b in cert.cert_chain_pems]
    return pems[0], b"".join(pems[1:]), cert.private_key_pem.bytes()


def self_signed(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, *names: str) -> bytes:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=90))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA().create_child_ca()  # a root and an intermediate: a real chain


def refused(reason: str, *args: object, **kw: object) -> None:
    with pytest.raises(ValidationFailed) as caught:
        certcheck.check(*args, **kw)  # type: ignore[arg-type]
    assert reason in str(caught.value), str(caught.value)
    assert "PRIVATE KEY" not in str(caught.value)


def test_a_good_certificate_with_its_chain(ca: trustme.CA) -> None:
    cert, chain, key = leaf(ca, *NAMES)
    info = certcheck.check(cert, key, chain, NAMES)
    assert info.names == NAMES
    assert info.not_after > NOW + dt.timedelta(days=300)
    assert info.serial and all(c in "0123456789abcdef" for c in info.serial)
    # The chain may also follow the certificate in the same file.
    assert certcheck.check(cert + chain, key, None, NAMES).serial == info.serial


def test_a_wildcard_covers_one_label(ca: trustme.CA) -> None:
    cert, chain, key = leaf(ca, "example.com", "*.example.com")
    certcheck.check(cert, key, chain, ["example.com", "www.example.com", "blog.example.com"])
    refused("does not cover a.b.example.com", cert, key, chain, ["a.b.example.com"])


def test_the_key_does_not_match(ca: trustme.CA) -> None:
    cert, chain, _ = leaf(ca, *NAMES)
    _, _, other_key = leaf(ca, *NAMES)
    refused("the key does not match the certificate", cert, other_key, chain, NAMES)


def test_a_broken_chain(ca: trustme.CA) -> None:
    cert, _, key = leaf(ca, *NAMES)
    stranger = trustme.CA().create_child_ca()
    _, wrong_chain, _ = leaf(stranger, "x.example.com")
    refused("the chain is broken", cert, key, wrong_chain, NAMES)


def test_names_that_do_not_cover_the_site(ca: trustme.CA) -> None:
    cert, chain, key = leaf(ca, "example.com")
    refused("does not cover www.example.com, alias.example.org", cert, key, chain, NAMES)


def test_expired_and_expiring_within_a_day(ca: trustme.CA) -> None:
    old = leaf(ca, *NAMES, not_before=NOW - dt.timedelta(days=90),
               not_after=NOW - dt.timedelta(hours=1))  # fmt: skip
    refused("has expired", old[0], old[2], old[1], NAMES)
    soon = leaf(ca, *NAMES, not_before=NOW - dt.timedelta(days=89),
                not_after=NOW + dt.timedelta(hours=20))  # fmt: skip
    refused("expires within a day", soon[0], soon[2], soon[1], NAMES)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: rsa.generate_private_key(65537, 1024), "RSA 1024 bits"),
        (lambda: ec.generate_private_key(ec.SECP192R1()), "EC curve secp192r1"),
    ],
)
def test_weak_keys(make: object, reason: str) -> None:
    key = make()  # type: ignore[operator]
    refused(f"the key is weak: {reason}", self_signed(key, *NAMES), key_pem(key), None, NAMES)


def test_strong_self_signed_keys_pass() -> None:
    for key in (rsa.generate_private_key(65537, 2048), ec.generate_private_key(ec.SECP384R1())):
        certcheck.check(self_signed(key, *NAMES), key_pem(key), None, NAMES)


def test_garbage_and_encrypted_keys(ca: trustme.CA) -> None:
    cert, chain, key = leaf(ca, *NAMES)
    refused("not a PEM certificate", b"hello", key, chain, NAMES)
    refused("not a PEM private key", cert, b"-----BEGIN PRIVATE KEY-----\nAAAA\n", chain, NAMES)
    loaded = serialization.load_pem_private_key(key, None)
    encrypted = loaded.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    refused("the key is encrypted", cert, encrypted, chain, NAMES)
