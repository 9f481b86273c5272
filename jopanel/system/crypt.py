"""Password hashing for /etc/shadow through libxcrypt (yescrypt, as Debian 12 uses).

Python's `crypt` module is deprecated (PEP 594), so we call libcrypt.so.1 directly.
The plain password stays in this process: never on a command line, in a file or a log.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hmac
import threading

_lib = ctypes.CDLL(ctypes.util.find_library("crypt") or "libcrypt.so.1", use_errno=True)
_lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
_lib.crypt.restype = ctypes.c_char_p
_lib.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
_lib.crypt_gensalt.restype = ctypes.c_char_p
_guard = threading.Lock()  # crypt() and crypt_gensalt() return static buffers

YESCRYPT = b"$y$"


def hash_system_password(password: str, prefix: bytes = YESCRYPT) -> str:
    if "\0" in password or "\n" in password:
        raise ValueError("password must not contain NUL or newline")
    with _guard:
        setting = _lib.crypt_gensalt(prefix, 0, None, 0)
        if not setting:
            raise OSError(ctypes.get_errno(), "crypt_gensalt failed")
        hashed: bytes | None = _lib.crypt(password.encode("utf-8"), setting)
    if not hashed or hashed.startswith(b"*"):
        raise OSError(ctypes.get_errno(), "crypt failed")
    return hashed.decode("ascii")


def verify_system_password(password: str, hashed: str) -> bool:
    """True if `password` matches a crypt(3) hash (a locked `!` hash never matches)."""
    if not hashed or hashed[0] in "!*" or "\0" in password:
        return False
    with _guard:
        result: bytes | None = _lib.crypt(password.encode("utf-8"), hashed.encode("ascii"))
    return result is not None and hmac.compare_digest(result, hashed.encode("ascii"))
