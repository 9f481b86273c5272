"""ACME (RFC 8555) through certbot's `acme` library: the server's one account, HTTP-01
orders, revocation. No protocol is written here, only the calls.

The account key and registration live root-only under ROOT/etc/jopanel/acme/<id>/, one
per directory URL (a test CA and Let's Encrypt never share an account). HTTP-01 tokens
are written to ROOT/var/lib/jopanel/acme-challenge/, which every vhost serves at
`/.well-known/acme-challenge/` (a `^~` location the account cannot shadow), and removed
once the order is over, whatever its outcome.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx
import requests
from acme import challenges, client, crypto_util, errors, messages
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from josepy.jwa import RS256
from josepy.jwk import JWKRSA

from ..atomic import ensure_dir, replace_file
from ..settings import Settings

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
# Under the API->agent timeout (120 s), so a slow CA is reported as such, not as a lost agent.
ORDER_TIMEOUT = dt.timedelta(seconds=90)
USER_AGENT = "JoPanel (acme-python)"
# RFC 5280 reasons JoPanel revokes with.
CESSATION_OF_OPERATION = 5


class AcmeFailed(Exception):
    """An order, a challenge or a revocation the CA refused or that could not be made;
    the message is the reason, as the CA gave it (never a key)."""


def new_key_pem() -> bytes:
    """A fresh certificate key (EC P-256) for each order: renewals rotate keys."""
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@dataclass
class AcmeAccount:
    settings: Settings
    # Reloads nginx now if a change is pending; True when it did (see _ensure_served).
    flush_nginx: Callable[[], bool] | None = None

    @property
    def directory(self) -> Path:
        tag = hashlib.sha256(self.settings.acme_directory.encode()).hexdigest()[:16]
        return self.settings.acme_dir / tag

    # --- the account ----------------------------------------------------------------------
    def _key(self) -> JWKRSA:
        path = self.directory / "account.key"
        try:
            pem = path.read_bytes()
        except FileNotFoundError:
            ensure_dir(self.directory, 0o700, parent_mode=0o700)
            key = rsa.generate_private_key(65537, 2048)
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            replace_file(path, pem, 0o600)
        loaded = serialization.load_pem_private_key(pem, password=None)
        return JWKRSA(key=cast(rsa.RSAPrivateKey, loaded))

    def client(self) -> client.ClientV2:
        """A client logged in to the CA (the account registered on first use)."""
        key = self._key()
        net = client.ClientNetwork(key, user_agent=USER_AGENT, alg=RS256)
        bundle = self.settings.acme_ca_bundle
        # requests takes a CA bundle path where acme's annotation says bool.
        net.verify_ssl = cast(bool, str(bundle)) if bundle else True
        try:
            directory = client.ClientV2.get_directory(self.settings.acme_directory, net)
            acme = client.ClientV2(directory, net)
            regr_file = self.directory / "registration.json"
            if regr_file.is_file():
                net.account = messages.RegistrationResource.json_loads(regr_file.read_text())
            else:
                contact = self.settings.acme_contact
                reg = messages.NewRegistration.from_data(
                    email=contact, terms_of_service_agreed=True
                )
                regr = acme.new_account(reg)
                replace_file(regr_file, regr.json_dumps().encode(), 0o600)
            return acme
        except (errors.Error, messages.Error, requests.RequestException) as exc:
            raise AcmeFailed(f"ACME directory {self.settings.acme_directory}: {exc}") from None

    # --- orders ---------------------------------------------------------------------------
    def obtain(self, names: list[str], key_pem: bytes) -> bytes:
        """The full chain (PEM) of a certificate for `names`, validated over HTTP-01."""
        acme = self.client()
        webroot = ensure_dir(self.settings.acme_webroot, 0o755)
        written: list[Path] = []
        try:
            order = acme.new_order(crypto_util.make_csr(key_pem, names))
            for authz in order.authorizations:
                if authz.body.status == messages.STATUS_VALID:
                    continue
                chall = _http01(authz)
                response, validation = chall.response_and_validation(acme.net.key)
                token = chall.chall.encode("token")
                if not TOKEN_RE.fullmatch(token):
                    raise AcmeFailed("the CA sent a malformed HTTP-01 token")
                path = webroot / token
                replace_file(path, validation.encode(), 0o644)
                written.append(path)
                self._ensure_served(authz.body.identifier.value, token, validation)
                acme.answer_challenge(chall, response)
            deadline = dt.datetime.now() + ORDER_TIMEOUT
            order = _poll_authorizations(acme, order, deadline)
            done = acme.finalize_order(order, deadline)
            return done.fullchain_pem.encode()
        except errors.ValidationError as exc:
            raise AcmeFailed(_validation_reason(exc)) from None
        except errors.TimeoutError:
            raise AcmeFailed("the order did not complete in time") from None
        except (errors.Error, messages.Error, requests.RequestException) as exc:
            raise AcmeFailed(str(exc) or type(exc).__name__) from None
        finally:
            for path in written:
                path.unlink(missing_ok=True)

    def _ensure_served(self, name: str, token: str, validation: str) -> None:
        """Fetch the token from the local nginx as the CA will. A site added a moment ago
        may still wait for its coalesced reload: then reload now and retry for a few
        seconds. A site nginx already serves costs one local request and no reload, so a
        renewal run keeps its reloads coalesced. Best effort: the CA's own fetch decides."""
        if self._served(name, token, validation):
            return
        if self.flush_nginx is None or not self.flush_nginx():
            return
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not self._served(name, token, validation):
            time.sleep(0.05)

    def _served(self, name: str, token: str, validation: str) -> bool:
        url = f"http://127.0.0.1:{self.settings.http_port}/.well-known/acme-challenge/{token}"
        try:
            reply = httpx.get(url, headers={"Host": name}, timeout=2)
        except httpx.HTTPError:
            return False
        return reply.status_code == 200 and reply.text == validation

    def revoke(self, fullchain_pem: bytes) -> None:
        cert = x509.load_pem_x509_certificates(fullchain_pem)[0]
        try:
            self.client().revoke(cert, CESSATION_OF_OPERATION)
        except messages.Error as exc:
            if exc.code == "alreadyRevoked":
                return
            raise AcmeFailed(str(exc)) from None
        except (errors.Error, requests.RequestException) as exc:
            raise AcmeFailed(str(exc) or type(exc).__name__) from None


def _http01(authz: messages.AuthorizationResource) -> messages.ChallengeBody:
    for challb in authz.body.challenges:
        if isinstance(challb.chall, challenges.HTTP01):
            return challb
    raise AcmeFailed(f"the CA offers no HTTP-01 challenge for {authz.body.identifier.value}")


def _poll_authorizations(
    acme: client.ClientV2, order: messages.OrderResource, deadline: dt.datetime
) -> messages.OrderResource:
    """Wait for every authorization to leave `pending`. The library's own loop polls once
    a second; a CA that validates in milliseconds (pebble, often Let's Encrypt) is asked
    again after 0.1 s, backing off to 2 s."""
    done = []
    for authzr in order.authorizations:
        delay = 0.1
        while authzr.body.status == messages.STATUS_PENDING:
            if dt.datetime.now() >= deadline:
                raise errors.TimeoutError()
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
            authzr, _ = acme.poll(authzr)
        done.append(authzr)
    failed = [a for a in done if a.body.status != messages.STATUS_VALID]
    if failed:
        raise errors.ValidationError(failed)
    updated: messages.OrderResource = order.update(authorizations=done)
    return updated


def _validation_reason(exc: errors.ValidationError) -> str:
    """The CA's own words for each failed authorization."""
    reasons: list[str] = []
    for authzr in exc.failed_authzrs:
        name = authzr.body.identifier.value
        details: list[Any] = [c.error for c in authzr.body.challenges if c.error is not None]
        text = "; ".join(str(d.detail or d.typ) for d in details) or str(authzr.body.status)
        reasons.append(f"{name}: {text}")
    return "validation failed: " + " | ".join(reasons)
