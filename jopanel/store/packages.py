"""Hosting packages as files: etc/jopanel/packages/<name>.json."""

from __future__ import annotations

import json
import os

from .. import validate
from ..atomic import ensure_dir, replace_file
from ..errors import Conflict, NotFound, ValidationFailed
from ..schemas import Package
from ..schemas.bundle import parse_model, render_document
from ..settings import Settings
from .locks import global_lock

DEFAULT_PACKAGE = "default"


class PackageStore:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.directory = settings.packages_dir

    def _path(self, name: str) -> os.PathLike[str]:
        return self.directory / f"{validate.package_name(name)}.json"

    def list(self) -> list[Package]:
        if not self.directory.is_dir():
            return []
        return [self.get(p.stem) for p in sorted(self.directory.glob("*.json"))]

    def exists(self, name: str) -> bool:
        return os.path.exists(self._path(name))

    def get(self, name: str) -> Package:
        try:
            with open(self._path(name), "rb") as handle:
                data = json.loads(handle.read().decode("utf-8"))
        except FileNotFoundError:
            raise NotFound(f"no package {name!r}", field="package") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValidationFailed(f"is not valid JSON: {exc}", field=f"{name}.json") from exc
        return parse_model(Package, data, "package")

    def save(self, package: Package, *, create: bool = False, update: bool = False) -> bool:
        """Write a package; `create` refuses an existing one, `update` a missing one."""
        ensure_dir(self.directory, 0o700)
        with global_lock(self.settings, "packages"):
            exists = self.exists(package.name)
            if create and exists:
                raise Conflict(f"package {package.name!r} already exists", field="name")
            if update and not exists:
                raise NotFound(f"no package {package.name!r}", field="name")
            if exists and self.get(package.name) == package:
                return False
            replace_file(self.directory / f"{package.name}.json", render_document(package))
            return True

    def delete(self, name: str, in_use: bool) -> None:
        if in_use:
            raise Conflict(f"package {name!r} is used by accounts", field="package")
        if name == DEFAULT_PACKAGE:
            raise Conflict("the default package cannot be deleted", field="package")
        with global_lock(self.settings, "packages"):
            try:
                os.unlink(self._path(name))
            except FileNotFoundError:
                raise NotFound(f"no package {name!r}", field="package") from None
