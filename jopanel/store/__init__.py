"""The on-disk source of truth: locks, revisions, domain claims, packages."""

from .domains import DomainClaims
from .packages import DEFAULT_PACKAGE, PackageStore
from .revisions import ConfigStore, Inspection, RevisionInfo, WriteResult, utcnow

__all__ = [
    "DEFAULT_PACKAGE",
    "ConfigStore",
    "DomainClaims",
    "Inspection",
    "PackageStore",
    "RevisionInfo",
    "WriteResult",
    "utcnow",
]
