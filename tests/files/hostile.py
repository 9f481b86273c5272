"""Hostile paths shared by the op, API and CLI tests."""

from __future__ import annotations

# Refused by syntax alone (422 before any file is touched).
SYNTAX = [
    "..",
    "../",
    "../..",
    "../../..",
    "../joko2",
    "../joko2/secret.txt",
    "/etc/passwd",
    "/",
    "//etc/passwd",
    "/home/joko2/secret.txt",
    "public_html/../../joko2/secret.txt",
    "public_html/../..",
    "a/../../../etc/passwd",
    "./../joko2",
    "a//b",
    "x\x00y",
    "\x00",
    "a/\x00/b",
    "a" * 5000,
    "n" * 256,
    "/".join(["d"] * 2100),
    "..\\..\\etc\\passwd",
    "public_html\\..\\..\\joko2",
    "\u202e..",
    "a\u200b/../..",
    "\n../joko2",
    "\u0085..",
    "..\u0000",
    "public_html/./../../joko2",
]
# Valid syntax, but a symlink (or hard link) on the way leads outside.
LINKED = [
    "etc/passwd",
    "etc/shadow",
    "rootetc/secret",
    "j2/secret.txt",
    "j2abs/secret.txt",
    "out/secret.txt",
    "public_html/up/joko2/secret.txt",
    "public_html/up/joko/victim.txt",
]
# The link itself (the final name): acting on it must never act on its target.
LINK_ITSELF = ["etc", "j2", "j2abs", "out", "hl_etc", "hl_out"]
# Valid names that only look like escapes: they stay literal names inside the home.
LOOKALIKE = [
    "%2e%2e",
    "%2e%2e/joko2",
    "..%2f..%2fetc%2fpasswd",
    "%252e%252e",
    "\u2025/joko2",
    "\uff0e\uff0e/joko2",
    "~joko2/secret.txt",
    "$HOME/../joko2".replace("/..", ""),
    "...",
]
ALL = SYNTAX + LINKED + LINK_ITSELF + LOOKALIKE
