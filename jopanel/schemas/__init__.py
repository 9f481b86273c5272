"""pydantic models of everything JoPanel keeps on disk (the account's six
files and the packages)."""

from .account import ALLOWED_SHELLS, LIMIT_FIELDS, NOLOGIN_SHELL, Account, Limits, Package
from .bundle import FILE_NAMES, KINDS, REVISION_KINDS, UserConfig, compute_revision
from .hosting import AddonDomain, CronJob, Domains, PhpSettings, Services, Ssh, Subdomain
from .meta import Audit, Meta

__all__ = [
    "ALLOWED_SHELLS",
    "FILE_NAMES",
    "KINDS",
    "LIMIT_FIELDS",
    "NOLOGIN_SHELL",
    "REVISION_KINDS",
    "Account",
    "AddonDomain",
    "Audit",
    "CronJob",
    "Domains",
    "Limits",
    "Meta",
    "Package",
    "PhpSettings",
    "Services",
    "Ssh",
    "Subdomain",
    "UserConfig",
    "compute_revision",
]
