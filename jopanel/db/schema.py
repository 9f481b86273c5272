"""Alembic, configured in code: `jopanel init`, `serve` and `demo` upgrade programmatically,
and `python -m jopanel.db check` runs `alembic check` for `make lint`.

The configuration that would live in alembic.ini is built here, so an installed package
needs no file outside itself.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from .session import make_engine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine | None = None, url: str | None = None) -> Config:
    """An Alembic Config pointing at our migrations; `engine` is handed to env.py."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.set_main_option("version_path_separator", "os")
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def upgrade_head(engine: Engine) -> None:
    """Bring the schema to the newest revision; a no-op when it already is."""
    command.upgrade(alembic_config(engine), "head")


def check(url: str | None = None) -> None:
    """`alembic check`: fail when the models and the migrations disagree.

    Without a URL it checks a fresh SQLite database upgraded to head.
    """
    with tempfile.TemporaryDirectory() as scratch:
        engine = make_engine(url or f"sqlite:///{scratch}/check.db")
        try:
            upgrade_head(engine)
            command.check(alembic_config(engine))
        finally:
            engine.dispose()


def revision(message: str, url: str | None = None) -> None:
    """Autogenerate a new migration (a developer tool: `python -m jopanel.db revision MSG`)."""
    with tempfile.TemporaryDirectory() as scratch:
        engine = make_engine(url or f"sqlite:///{scratch}/rev.db")
        try:
            upgrade_head(engine)
            command.revision(alembic_config(engine), message=message, autogenerate=True)
        finally:
            engine.dispose()
