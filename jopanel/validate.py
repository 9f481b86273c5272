"""Validators for every value a user can send: usernames, domains, emails, SSH keys, paths.

Used by the API, the CLI, and again inside the agent. Each raises `ValidationFailed`
naming the field and showing the bad value; each returns the normalised value.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
import unicodedata
from pathlib import Path, PurePosixPath

import idna

from .errors import ValidationFailed

USERNAME_RE = re.compile(r"^[a-z][a-z0-9]{2,15}$")
# Panel logins (admins, resellers) may be a little longer but obey the same alphabet.
PANEL_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{2,31}$")
PACKAGE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# RFC 5322 atext minus the backtick, which CONFIG_FORBIDDEN also refuses (a quote to shells).
EMAIL_LOCAL_RE = re.compile(r"^[A-Za-z0-9.!#%&*+/=?^_|~-]{1,64}$")

# Names no hosting account may take, whatever the passwd file says.
RESERVED_USERNAMES = frozenset(
    """root admin administrator nobody nogroup daemon bin sys sync games man lp mail news
    uucp proxy backup list irc gnats systemd sshd mysql mariadb postgres redis nginx apache
    httpd www wwwdata ftp sftp postfix dovecot exim bind named messagebus jopanel panel
    operator shutdown halt adm wheel sudo staff users tty disk kmem dialout cdrom floppy
    audio video plugdev netdev input kvm render shadow utmp tape voice src sasl scanner
    avahi polkitd rabbitmq mosquitto nats memcached clamav spamd opendkim mailman webmaster
    hostmaster postmaster abuse localhost test support info billing security""".split()
)

CONFIG_FORBIDDEN = set("\n\r\0;{}$\"'`\\")


def _fail(field: str, reason: str, value: object) -> ValidationFailed:
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return ValidationFailed(f"{reason} (got {shown})", field=field)


def username(value: str, field: str = "username") -> str:
    """A hosting account name (`^[a-z][a-z0-9]{2,15}$`, fits every Unix
    tool's name limit). Look-alikes are folded with NFKC first."""
    if not isinstance(value, str) or not value:
        raise _fail(field, "is required", value)
    folded = unicodedata.normalize("NFKC", value).casefold()
    if folded in RESERVED_USERNAMES:
        raise _fail(field, "is a reserved system name", value)
    if folded != value or not value.isascii():
        raise _fail(field, "must be plain lowercase ASCII", value)
    if not USERNAME_RE.fullmatch(value):
        raise _fail(field, "must match ^[a-z][a-z0-9]{2,15}$", value)
    return value


def panel_name(value: str, field: str = "username") -> str:
    """A panel login name (admin or reseller); hosting accounts also qualify."""
    if not isinstance(value, str) or not value.isascii() or not PANEL_NAME_RE.fullmatch(value):
        raise _fail(field, "must match ^[a-z][a-z0-9_-]{2,31}$", value)
    return value


def package_name(value: str, field: str = "package") -> str:
    if not isinstance(value, str) or not value.isascii() or not PACKAGE_RE.fullmatch(value):
        raise _fail(field, "must match ^[a-z0-9][a-z0-9_-]{0,31}$", value)
    return value


def domain(value: str, field: str = "domain") -> str:
    """A hostname, lowercased, IDN converted to punycode; no wildcard, at least two labels."""
    if not isinstance(value, str) or not value:
        raise _fail(field, "is required", value)
    if any(ch in value for ch in "\0\r\n\t /\\:@*?#%;{}$\"'`<>|,&()[]=!~^+"):
        raise _fail(field, "contains characters a hostname cannot have", value)
    candidate = unicodedata.normalize("NFKC", value).strip().lower()
    if candidate.endswith("."):
        raise _fail(field, "must not end with a dot", value)
    if not candidate.isascii():
        try:
            candidate = idna.encode(candidate, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError) as exc:
            raise _fail(field, f"is not a valid internationalised name: {exc}", value) from exc
    if len(candidate) > 253:
        raise _fail(field, "is longer than 253 characters", value)
    labels = candidate.split(".")
    if len(labels) < 2:
        raise _fail(field, "needs at least two labels (example.com)", value)
    for label in labels:
        if not LABEL_RE.fullmatch(label):
            raise _fail(field, f"has an invalid label {label!r}", value)
        if label.startswith("xn--"):
            try:
                idna.decode(label)
            except (idna.IDNAError, UnicodeError) as exc:
                raise _fail(field, f"has an invalid punycode label {label!r}", value) from exc
    if labels[-1].isdigit():
        raise _fail(field, "must not be an IP address or end in a numeric label", value)
    return candidate


def subdomain_label(value: str, field: str = "subdomain") -> str:
    """The part left of the parent domain (`blog` in blog.example.com); dots allowed."""
    if not isinstance(value, str) or not value or len(value) > 190:
        raise _fail(field, "must be 1-190 characters", value)
    lowered = value.lower()
    for label in lowered.split("."):
        if not LABEL_RE.fullmatch(label):
            raise _fail(field, f"has an invalid label {label!r}", value)
    return lowered


def email(value: str, field: str = "contact_email") -> str:
    if not isinstance(value, str) or len(value) > 254 or value.count("@") != 1:
        raise _fail(field, "must be one address like name@example.com", value)
    local, _, host = value.partition("@")
    if not EMAIL_LOCAL_RE.fullmatch(local) or ".." in local or local.endswith("."):
        raise _fail(field, "has an invalid local part", value)
    # A leading '-' turns the address into an option of sendmail & co (CVE-2016-10033).
    if local.startswith((".", "-")):
        raise _fail(field, "must not start with '.' or '-'", value)
    try:
        host = domain(host, field)
    except ValidationFailed as exc:
        raise _fail(field, "has an invalid domain", value) from exc
    return f"{local}@{host}"


def config_safe(value: str, field: str, *, max_len: int = 255) -> str:
    """A string that may be written into nginx/PHP-FPM/sshd configs verbatim."""
    if not isinstance(value, str) or len(value) > max_len:
        raise _fail(field, f"must be a string of at most {max_len} characters", value)
    bad = CONFIG_FORBIDDEN.intersection(value)
    if bad or any(unicodedata.category(ch).startswith("C") for ch in value):
        raise _fail(field, "contains characters not allowed in configuration", value)
    return value


def relative_path(value: str, field: str = "path", *, allow_empty: bool = False) -> str:
    """A path relative to a home or document root: no `..`, no absolute path, no control chars."""
    if not isinstance(value, str) or len(value) > 1024:
        raise _fail(field, "must be a path of at most 1024 characters", value)
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise _fail(field, "contains control characters", value)
    if value.startswith("/"):
        raise _fail(field, "must be relative, not absolute", value)
    parts = [p for p in PurePosixPath(value).parts if p not in ("", ".")]
    if ".." in parts:
        raise _fail(field, "must not contain '..'", value)
    if any(p.startswith("-") for p in parts):
        raise _fail(field, "must not have a component starting with '-'", value)
    if not parts and not allow_empty:
        raise _fail(field, "must not be empty", value)
    return "/".join(parts)


def absolute_path(value: str, field: str = "path") -> str:
    """An absolute, normalised path for configs (open_basedir, chroot_dir)."""
    if not isinstance(value, str) or not value.startswith("/"):
        raise _fail(field, "must be an absolute path", value)
    config_safe(value, field, max_len=1024)
    if any(ch.isspace() for ch in value):
        raise _fail(field, "must not contain whitespace", value)
    # ':' separates entries of PHP's open_basedir: "/home/joko:/etc" would open /etc.
    if ":" in value:
        raise _fail(field, "must not contain ':'", value)
    parts = PurePosixPath(value).parts
    if ".." in parts:
        raise _fail(field, "must not contain '..'", value)
    return str(PurePosixPath(value))


def contained(base: Path, relative: str, field: str = "path") -> Path:
    """`base/relative`, refusing a result outside base (also through symlinks).

    A prefix test on strings would let /home/joko2 pass for /home/joko; comparing path
    parents does not.
    """
    cleaned = relative_path(relative, field, allow_empty=True)
    real_base = base.resolve()
    target = (real_base / cleaned).resolve()
    if target != real_base and real_base not in target.parents:
        raise _fail(field, "points outside the allowed directory", relative)
    return target


# --- SSH public keys -------------------------------------------------------------------

SSH_KEY_TYPES = {
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
}
MIN_RSA_BITS = 2048


def _ssh_string(blob: bytes, offset: int) -> tuple[bytes, int]:
    if offset + 4 > len(blob):
        raise ValueError("truncated key")
    (length,) = struct.unpack(">I", blob[offset : offset + 4])
    end = offset + 4 + length
    if end > len(blob):
        raise ValueError("truncated key")
    return blob[offset + 4 : end], end


def ssh_public_key(value: str, field: str = "ssh_key") -> str:
    """One OpenSSH public key line: `type base64 [comment]`, no options, no ssh-dss.

    Returns the normalised line (single spaces, comment kept).
    """
    if not isinstance(value, str) or len(value) > 16384:
        raise _fail(field, "must be one public key line", value)
    line = value.strip()
    if any(unicodedata.category(ch) == "Cc" for ch in line):
        raise _fail(field, "must be a single line without control characters", value)
    parts = line.split(None, 2)
    if len(parts) < 2:
        raise _fail(field, "must be 'type base64 [comment]'", value)
    key_type, b64 = parts[0], parts[1]
    comment = parts[2] if len(parts) == 3 else ""
    if key_type == "ssh-dss":
        raise _fail(field, "DSA keys are insecure and not accepted", value)
    if key_type not in SSH_KEY_TYPES:
        raise _fail(field, "must start with a key type; options are not accepted", value)
    try:
        blob = base64.b64decode(b64, validate=True)
        embedded, offset = _ssh_string(blob, 0)
        if embedded.decode("ascii") != key_type:
            raise ValueError("key type does not match its data")
        if key_type == "ssh-rsa":
            _exponent, offset = _ssh_string(blob, offset)
            modulus, offset = _ssh_string(blob, offset)
            bits = int.from_bytes(modulus, "big").bit_length()
            if bits < MIN_RSA_BITS:
                raise _fail(field, f"RSA key has {bits} bits; at least {MIN_RSA_BITS}", value)
        elif key_type == "ssh-ed25519":
            pub, offset = _ssh_string(blob, offset)
            if len(pub) != 32:
                raise ValueError("ed25519 key must be 32 bytes")
        elif key_type.startswith("ecdsa-sha2-"):
            curve, offset = _ssh_string(blob, offset)
            if curve.decode("ascii") != key_type.removeprefix("ecdsa-sha2-"):
                raise ValueError("ECDSA curve does not match the key type")
            _point, offset = _ssh_string(blob, offset)
        # OpenSSH refuses a key blob with bytes after the key; so do we.
        if not key_type.startswith("sk-") and offset != len(blob):
            raise ValueError("unexpected data after the key")
    except ValidationFailed:
        raise
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise _fail(field, f"is not a valid public key: {exc}", value) from exc
    if comment:
        config_safe(comment, f"{field}.comment", max_len=200)
    return " ".join(p for p in (key_type, b64, comment) if p)


def ssh_fingerprint(key_line: str) -> str:
    """OpenSSH's SHA256 fingerprint of a validated key line (as `ssh-keygen -l` shows)."""
    blob = base64.b64decode(key_line.split()[1])
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return f"SHA256:{digest}"
