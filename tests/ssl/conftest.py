"""Fixtures of the certificate tests (open_root: a sandbox root www-data can traverse)."""

from tests.hosting.conftest import open_root

__all__ = ["open_root"]
