"""Hostile and valid inputs for every validator in jopanel.validate.

SSH keys are real ones made by ssh-keygen; a row names a key by a placeholder such as
<ED25519> that is swapped for the generated key line at run time.
"""

from __future__ import annotations

import base64
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jopanel import validate
from jopanel.errors import ValidationFailed

KEY_KINDS = {
    "ED25519": ["-t", "ed25519"],
    "RSA1024": ["-t", "rsa", "-b", "1024"],
    "RSA2048": ["-t", "rsa", "-b", "2048"],
    "ECDSA": ["-t", "ecdsa", "-b", "256"],
    "DSA": ["-t", "dsa"],
}


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Placeholder -> text: each key line, its base64 blob, and its `ssh-keygen -l` fingerprint."""
    directory = tmp_path_factory.mktemp("keys")
    found: dict[str, str] = {}
    for kind, args in KEY_KINDS.items():
        path = directory / kind.lower()
        subprocess.run(
            ["ssh-keygen", *args, "-N", "", "-C", "tester@host", "-q", "-f", str(path)],
            check=True,
            timeout=60,
        )
        line = path.with_suffix(".pub").read_text(encoding="ascii").strip()
        found[kind] = line
        found[f"{kind}_BLOB"] = line.split()[1]
        listed = subprocess.run(
            ["ssh-keygen", "-l", "-f", str(path.with_suffix(".pub"))],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
        found[f"{kind}_FP"] = listed.stdout.split()[1]
    ed_blob = base64.b64decode(found["ED25519_BLOB"])
    found["ED25519_TRUNCATED_BLOB"] = base64.b64encode(ed_blob[:-4]).decode()
    found["ED25519_TRAILING_BLOB"] = base64.b64encode(ed_blob + b"\0\0\0\1x").decode()
    rsa_blob = base64.b64decode(found["RSA2048_BLOB"])
    found["RSA2048_TRAILING_BLOB"] = base64.b64encode(rsa_blob + b"junk").decode()
    found["ED25519_PRIVATE"] = (directory / "ed25519").read_text(encoding="ascii")
    return found


def expand(text: str, keys: dict[str, str]) -> str:
    # Longest placeholders first, so <ED25519_BLOB> is not eaten by <ED25519>.
    for name in sorted(keys, key=len, reverse=True):
        text = text.replace(f"<{name}>", keys[name])
    return text


VALIDATORS: dict[str, Callable[[str], str]] = {
    "username": validate.username,
    "domain": validate.domain,
    "email": validate.email,
    "ssh_key": validate.ssh_public_key,
    "relative_path": validate.relative_path,
    "absolute_path": validate.absolute_path,
    "subdomain": validate.subdomain_label,
    "package": validate.package_name,
    "config": lambda value: validate.config_safe(value, "force_command"),
}

# (validator, hostile input, field the error must name)
HOSTILE: list[tuple[str, str, str]] = [
    # --- usernames ---------------------------------------------------------------------
    ("username", "", "username"),
    ("username", "root", "username"),
    ("username", "Root", "username"),
    ("username", "ｒｏｏｔ", "username"),  # fullwidth letters fold to 'root'
    ("username", "jоko", "username"),  # Cyrillic о (U+043E)
    ("username", "ｊｏｋｏ", "username"),  # fullwidth look-alike of a free name
    ("username", "jokö", "username"),
    ("username", "-oProxyCommand", "username"),
    ("username", "joko;id", "username"),
    ("username", "joko$(id)", "username"),
    ("username", "jo`id`", "username"),
    ("username", "joko\n", "username"),
    ("username", "joko\x00", "username"),
    ("username", "jo", "username"),
    ("username", "a" * 17, "username"),
    ("username", "1joko", "username"),
    ("username", "jo.ko", "username"),
    ("username", "jo_ko", "username"),
    ("username", "../etc", "username"),
    ("username", " joko", "username"),
    ("username", "JOKO", "username"),
    ("username", "admin", "username"),
    ("username", "www-data", "username"),
    ("username", "joko*", "username"),
    # --- domains -----------------------------------------------------------------------
    ("domain", "", "domain"),
    ("domain", "localhost", "domain"),
    ("domain", "com", "domain"),
    ("domain", "*.example.com", "domain"),
    ("domain", "192.168.1.1", "domain"),
    ("domain", "10.0.0.300", "domain"),
    ("domain", "[::1]", "domain"),
    ("domain", "::1", "domain"),
    ("domain", "example.com.", "domain"),
    ("domain", "-example.com", "domain"),
    ("domain", "example-.com", "domain"),
    ("domain", "-oProxyCommand=sh.example.com", "domain"),
    ("domain", "ex ample.com", "domain"),
    ("domain", "example.com;evil", "domain"),
    ("domain", "example.com{", "domain"),
    ("domain", "exa$mple.com", "domain"),
    ("domain", "ex'ample.com", "domain"),
    ("domain", 'ex"ample.com', "domain"),
    ("domain", "example.com\n", "domain"),
    ("domain", "example.com\r\nHost: evil.com", "domain"),
    ("domain", "exa\x00mple.com", "domain"),
    ("domain", "a" * 64 + ".com", "domain"),
    ("domain", ".".join(["a" * 63] * 4) + ".com", "domain"),  # 256 characters
    ("domain", "exa_mple.com", "domain"),
    ("domain", "a..b.com", "domain"),
    ("domain", ".example.com", "domain"),
    ("domain", "xn--zz.com", "domain"),  # invalid punycode
    ("domain", "example.com/../etc", "domain"),
    ("domain", "user@example.com", "domain"),
    ("domain", "example.com:80", "domain"),
    ("domain", "http://example.com", "domain"),
    ("domain", "example.com`id`", "domain"),
    # --- emails ------------------------------------------------------------------------
    ("email", "", "contact_email"),
    ("email", "plain", "contact_email"),
    ("email", "a@@example.com", "contact_email"),
    ("email", "a@b@example.com", "contact_email"),
    ("email", "a@localhost", "contact_email"),
    ("email", "a b@example.com", "contact_email"),
    ("email", "a;b@example.com", "contact_email"),
    ("email", "a$(id)@example.com", "contact_email"),
    ("email", "a`id`@example.com", "contact_email"),
    ("email", '"a"@example.com', "contact_email"),
    ("email", "a'b@example.com", "contact_email"),
    ("email", "a{b}@example.com", "contact_email"),
    ("email", "a@example.com\nBcc: x@example.com", "contact_email"),
    ("email", "a@example.com\x00", "contact_email"),
    ("email", "-oProxyCommand=/bin/sh@example.com", "contact_email"),
    ("email", ".a@example.com", "contact_email"),
    ("email", "a.@example.com", "contact_email"),
    ("email", "a..b@example.com", "contact_email"),
    ("email", "a@-example.com", "contact_email"),
    ("email", "a@*.example.com", "contact_email"),
    ("email", "a@1.2.3.4", "contact_email"),
    ("email", "a@[127.0.0.1]", "contact_email"),
    ("email", "x" * 65 + "@example.com", "contact_email"),
    ("email", "jоe@example.com", "contact_email"),  # Cyrillic о in the local part
    # --- SSH public keys ---------------------------------------------------------------
    ("ssh_key", "", "ssh_key"),
    ("ssh_key", "ssh-ed25519", "ssh_key"),
    ("ssh_key", "<DSA>", "ssh_key"),
    ("ssh_key", "<RSA1024>", "ssh_key"),
    ("ssh_key", 'command="/bin/sh" <ED25519>', "ssh_key"),
    ("ssh_key", 'no-pty,from="*" <ED25519>', "ssh_key"),
    ("ssh_key", 'environment="LD_PRELOAD=/tmp/x.so" <RSA2048>', "ssh_key"),
    ("ssh_key", "-oProxyCommand=sh <ED25519>", "ssh_key"),
    ("ssh_key", "<ED25519>\n<RSA2048>", "ssh_key"),
    ("ssh_key", "<ED25519>\nssh-ed25519 AAAA injected", "ssh_key"),
    ("ssh_key", "ssh-ed25519 <ED25519_BLOB>\x00 me", "ssh_key"),
    ("ssh_key", "ssh-rsa <ED25519_BLOB> mismatch", "ssh_key"),
    ("ssh_key", "ssh-ed25519 <RSA2048_BLOB> mismatch", "ssh_key"),
    ("ssh_key", "ssh-ed25519 <ECDSA_BLOB>", "ssh_key"),
    ("ssh_key", "ssh-ed25519 <ED25519_TRUNCATED_BLOB>", "ssh_key"),
    ("ssh_key", "ssh-ed25519 <ED25519_TRAILING_BLOB>", "ssh_key"),
    ("ssh_key", "ssh-rsa <RSA2048_TRAILING_BLOB>", "ssh_key"),
    ("ssh_key", "ecdsa-sha2-nistp384 <ECDSA_BLOB>", "ssh_key"),  # a nistp256 key
    ("ssh_key", "ssh-ed25519 AAAA!!!notbase64", "ssh_key"),
    ("ssh_key", "ssh-foo <ED25519_BLOB>", "ssh_key"),
    ("ssh_key", "ssh-ed25519\t<ED25519_BLOB>", "ssh_key"),  # tabs are control characters
    ("ssh_key", "<ED25519_PRIVATE>", "ssh_key"),
    ("ssh_key", "ssh-ed25519 <ED25519_BLOB> me;include /etc/shadow", "ssh_key.comment"),
    ("ssh_key", "ssh-ed25519 <ED25519_BLOB> $(reboot)", "ssh_key.comment"),
    ("ssh_key", 'ssh-ed25519 <ED25519_BLOB> a"b', "ssh_key.comment"),
    # --- paths -------------------------------------------------------------------------
    ("relative_path", "", "path"),
    ("relative_path", "../etc", "path"),
    ("relative_path", "public_html/../../etc", "path"),
    ("relative_path", "/etc/passwd", "path"),
    ("relative_path", "-rf", "path"),
    ("relative_path", "public_html/-oProxyCommand=sh", "path"),
    ("relative_path", "public\nhtml", "path"),
    ("relative_path", "public\x00html", "path"),
    ("relative_path", "a" * 1025, "path"),
    ("absolute_path", "home/joko", "path"),
    ("absolute_path", "/home/joko/../../etc", "path"),
    ("absolute_path", "/var/www;include /etc/shadow", "path"),
    ("absolute_path", "/home/joko/{x}", "path"),
    ("absolute_path", "/home/$USER", "path"),
    ("absolute_path", '/home/"joko"', "path"),
    ("absolute_path", "/home/jo'ko", "path"),
    ("absolute_path", "/home/jo ko", "path"),
    ("absolute_path", "/home/joko\n", "path"),
    ("absolute_path", "/home/`id`", "path"),
    ("absolute_path", "/home/joko:/etc", "path"),  # open_basedir separator
    # --- subdomain labels, package names, strings bound for config files ---------------
    ("subdomain", "", "subdomain"),
    ("subdomain", "*", "subdomain"),
    ("subdomain", "blog;", "subdomain"),
    ("subdomain", "-blog", "subdomain"),
    ("subdomain", "a" * 64, "subdomain"),
    ("package", "../default", "package"),
    ("package", "Gold Plan", "package"),
    ("package", "", "package"),
    ("config", "/bin/sh\nMatch all", "force_command"),
    ("config", "internal-sftp; rm -rf /", "force_command"),
    ("config", "echo ${HOME}", "force_command"),
    ("config", "x\u202ey", "force_command"),  # right-to-left override (format character)
]


def _row_id(row: tuple[str, str, str]) -> str:
    return f"{row[0]}-{row[1][:24]!r}"


@pytest.mark.parametrize(("kind", "value", "field"), HOSTILE, ids=[_row_id(r) for r in HOSTILE])
def test_hostile_input_is_refused(kind: str, value: str, field: str, keys: dict[str, str]) -> None:
    value = expand(value, keys)
    with pytest.raises(ValidationFailed) as caught:
        VALIDATORS[kind](value)
    assert caught.value.field == field
    assert caught.value.code == "invalid"
    assert "(got " in caught.value.message  # the message shows the bad value
    assert str(caught.value).startswith(f"{field}: ")


def test_hostile_table_is_large_enough() -> None:
    assert len(HOSTILE) >= 60
    assert {kind for kind, _, _ in HOSTILE} >= {
        "username",
        "domain",
        "email",
        "ssh_key",
        "relative_path",
        "absolute_path",
    }


# (validator, input, normalised output)
VALID: list[tuple[str, str, str]] = [
    ("username", "joko", "joko"),
    ("username", "a12", "a12"),
    ("username", "abcdefghijklmnop", "abcdefghijklmnop"),
    ("domain", "example.com", "example.com"),
    ("domain", "EXAMPLE.COM", "example.com"),
    ("domain", "Shop.Example.co.uk", "shop.example.co.uk"),
    ("domain", "bücher.de", "xn--bcher-kva.de"),
    ("domain", "BÜCHER.de", "xn--bcher-kva.de"),
    ("domain", "xn--bcher-kva.de", "xn--bcher-kva.de"),
    ("domain", "пример.рф", "xn--e1afmkfd.xn--p1ai"),
    ("domain", "ｅｘａｍｐｌｅ.com", "example.com"),  # fullwidth folds to the same name
    ("domain", "a" * 63 + ".com", "a" * 63 + ".com"),
    ("domain", "my-site1.example.com", "my-site1.example.com"),
    ("email", "Joe.Bloggs+tag@EXAMPLE.com", "Joe.Bloggs+tag@example.com"),
    ("email", "a@bücher.de", "a@xn--bcher-kva.de"),
    ("email", "o_k-1@mail.example.org", "o_k-1@mail.example.org"),
    ("relative_path", "public_html", "public_html"),
    (
        "relative_path",
        "./domains//shop.example.com/public_html/",
        "domains/shop.example.com/public_html",
    ),
    ("absolute_path", "/home/joko/", "/home/joko"),
    ("absolute_path", "/home//joko/./public_html", "/home/joko/public_html"),
    ("subdomain", "Blog", "blog"),
    ("subdomain", "a.b", "a.b"),
    ("package", "gold-2024", "gold-2024"),
    ("config", "internal-sftp", "internal-sftp"),
    ("ssh_key", "<ED25519>", "<ED25519>"),
    ("ssh_key", "<RSA2048>", "<RSA2048>"),
    ("ssh_key", "<ECDSA>", "<ECDSA>"),
    (
        "ssh_key",
        "  ssh-ed25519   <ED25519_BLOB>  laptop key  ",
        "ssh-ed25519 <ED25519_BLOB> laptop key",
    ),
    ("ssh_key", "ssh-ed25519 <ED25519_BLOB>", "ssh-ed25519 <ED25519_BLOB>"),
]


@pytest.mark.parametrize(("kind", "value", "expected"), VALID, ids=[_row_id(r) for r in VALID])
def test_valid_input_is_normalised(
    kind: str, value: str, expected: str, keys: dict[str, str]
) -> None:
    assert VALIDATORS[kind](expand(value, keys)) == expand(expected, keys)


@pytest.mark.parametrize("kind", ["ED25519", "RSA2048", "ECDSA"])
def test_fingerprint_matches_ssh_keygen(kind: str, keys: dict[str, str]) -> None:
    line = validate.ssh_public_key(keys[kind])
    assert validate.ssh_fingerprint(line) == keys[f"{kind}_FP"]


def test_rsa_1024_is_refused_for_its_size(keys: dict[str, str]) -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate.ssh_public_key(keys["RSA1024"])
    assert "RSA key has 1024 bits; at least 2048" in caught.value.message


def test_validators_name_the_field_they_are_given() -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate.domain("bad domain", field="addon_domains.0.domain")
    assert caught.value.field == "addon_domains.0.domain"
    with pytest.raises(ValidationFailed) as caught:
        validate.email("x@localhost", field="email")
    assert caught.value.field == "email"


# --- contained(): a path under a base directory, also through symlinks ----------------


@pytest.fixture
def homes(tmp_path: Path) -> Path:
    for name in ("joko", "joko2"):
        (tmp_path / "home" / name / "public_html").mkdir(parents=True)
    (tmp_path / "home/joko2/secret.txt").write_text("not yours\n")
    return tmp_path / "home"


def test_contained_accepts_paths_inside(homes: Path) -> None:
    base = homes / "joko"
    assert validate.contained(base, "public_html") == (base / "public_html").resolve()
    assert (
        validate.contained(base, "public_html/new/file.txt")
        == (base / "public_html/new/file.txt").resolve()
    )
    assert validate.contained(base, "") == base.resolve()


def test_contained_does_not_confuse_joko2_with_joko(homes: Path) -> None:
    base = homes / "joko"
    os.symlink(homes / "joko2", base / "sibling")
    with pytest.raises(ValidationFailed) as caught:
        validate.contained(base, "sibling/secret.txt")
    assert caught.value.field == "path"
    with pytest.raises(ValidationFailed):
        validate.contained(base, "../joko2/secret.txt")


@pytest.mark.parametrize(
    "target",
    ["/etc", "../..", "../../joko2", "/"],
    ids=["absolute", "up-two", "sibling-home", "slash"],
)
def test_contained_refuses_symlink_escapes(homes: Path, target: str) -> None:
    base = homes / "joko"
    os.symlink(target, base / "public_html/escape")
    with pytest.raises(ValidationFailed) as caught:
        validate.contained(base, "public_html/escape/passwd", field="file")
    assert caught.value.field == "file"
    assert "outside" in caught.value.message


def test_contained_follows_symlinks_that_stay_inside(homes: Path) -> None:
    base = homes / "joko"
    os.symlink("public_html", base / "www")
    assert validate.contained(base, "www/index.html") == (base / "public_html/index.html").resolve()


# --- properties: only ValidationFailed ever escapes, and outputs are fixed points ---------

TRICKY = list("abcXYZ019.-_@/ ;{}$\"'`\\\n\r\0\t*:=+~!#%&?^|,<>()[]")
TRICKY += ["ä", "ß", "ｒ", "а", "\u200b", "\u202e", "İ", "ﬁ", "\u0301", "Ⅻ", "①", "\ufeff"]
PIECES = ["xn--", "..", "a", ".", "-", "ä", "com", "@", "/", "1", "Example"]
hostile_text = st.one_of(
    st.text(st.sampled_from(TRICKY), max_size=40),
    st.text(max_size=40),
    st.lists(st.sampled_from(PIECES), max_size=12).map("".join),
)


@settings(max_examples=400, deadline=None)
@given(kind=st.sampled_from(sorted(VALIDATORS)), value=hostile_text)
def test_validators_raise_only_validation_failed_and_are_idempotent(kind: str, value: str) -> None:
    try:
        normalised = VALIDATORS[kind](value)
    except ValidationFailed as exc:
        assert exc.message
        return
    assert VALIDATORS[kind](normalised) == normalised
    # Values that end up verbatim in nginx/sshd/PHP configs carry none of `;{}$"'` etc.
    # (relative paths get that check in the schemas, where they become document roots).
    if kind in ("domain", "email", "absolute_path", "username", "config"):
        assert validate.CONFIG_FORBIDDEN.isdisjoint(normalised)
    if kind in ("domain", "email", "username", "subdomain", "package"):
        assert normalised.isascii()
