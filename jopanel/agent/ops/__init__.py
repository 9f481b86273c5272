"""Importing this package registers every agent op."""

from . import (  # noqa: F401
    adopt,
    cron,
    databases,
    doctor,
    domains,
    files,
    history,
    index,
    logins,
    lookups,
    packages,
    php,
    rebuild,
    ssh,
    ssl,
    status,
    users,
)

__all__: list[str] = []
