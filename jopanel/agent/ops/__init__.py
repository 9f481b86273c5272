"""Importing this package registers every agent op."""

from . import adopt, history, packages, users  # noqa: F401

__all__: list[str] = []
