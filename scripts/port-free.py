#!/usr/bin/env python3
"""Prints one line and exits 1 when HOST:PORT cannot be bound (stdlib only: it runs
before the venv exists, so `make demo` can refuse a busy port before creating anything)."""

from __future__ import annotations

import socket
import sys


def main(host: str, port_text: str) -> int:
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        print(f"PORT must be a number from 1 to 65535 (got {port_text!r})")
        return 1
    port = int(port_text)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    probe = socket.socket(family, socket.SOCK_STREAM)
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        probe.bind((host, port))
    except OSError as exc:
        print(f"port {port} on {host} is not free ({exc.strerror}): choose another, e.g. make demo PORT={port + 1}")
        return 1
    finally:
        probe.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
