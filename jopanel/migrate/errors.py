"""Errors of the V1 migration; each one is a one-line reason for the CLI.

JoPanelError
└── MigrationError          migrate        exit 9
    ├── V1Unreachable       v1_unreachable
    ├── V1AccessDenied      v1_denied
    ├── NotV1Database       not_v1
    └── BackupFailed        backup_failed
"""

from __future__ import annotations

from ..errors import JoPanelError


class MigrationError(JoPanelError):
    code = "migrate"
    exit_code = 9


class V1Unreachable(MigrationError):
    """The MariaDB server of V1 does not answer."""

    code = "v1_unreachable"


class V1AccessDenied(MigrationError):
    """Wrong credentials, or no right to the database."""

    code = "v1_denied"


class NotV1Database(MigrationError):
    """The database exists but does not look like JoPanel V1's."""

    code = "not_v1"


class BackupFailed(MigrationError):
    """The dump could not be written or did not restore identically; nothing was migrated."""

    code = "backup_failed"


class MigrationIncomplete(MigrationError):
    """The run finished but some V1 rows failed; the report says which and why."""

    code = "incomplete"
    exit_code = 1
