"""Importing this package registers every agent op."""

from . import adopt, domains, history, index, logins, packages, rebuild, ssh, status, users  # noqa: F401

__all__: list[str] = []
