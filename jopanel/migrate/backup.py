"""Back up the V1 database before anything is written, and prove the backup restores.

The dump is made by mariadb-dump (through the one command Runner, argv only). Credentials
reach the client through a temporary 0600 `--defaults-extra-file`, never its argv. The
dump is restored into a scratch database `<name>_jopanel_verify_<rand>` on the same
server, table list, row counts and CHECKSUM TABLE are compared, and the scratch database
is dropped whatever happens. Dumps are written with `--skip-dump-date` and named after
their content hash, so re-running over an unchanged V1 keeps the one backup it has.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..atomic import ensure_dir, fsync_dir, write_new_file
from ..errors import CommandFailed
from ..system.runner import Runner
from .errors import BackupFailed
from .introspect import V1Source

DUMP_TIMEOUT = 3600.0


@dataclass(frozen=True)
class BackupResult:
    path: Path
    sha256: str
    reused: bool
    tables: dict[str, int]  # table -> rows, as verified in the scratch restore

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "sha256": self.sha256,
            "reused": self.reused,
            "tables": self.tables,
            "verified": True,
        }


def _option_value(value: str) -> str:
    """Quote a value for a MariaDB option file."""
    if any(ch in value for ch in "\n\r\0"):
        raise BackupFailed("credentials must not contain line breaks")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def defaults_file_text(source: V1Source) -> str:
    lines = ["[client]", f"user={_option_value(source.user)}"]
    if source.password:
        lines.append(f"password={_option_value(source.password)}")
    if source.unix_socket:
        lines.append(f"socket={_option_value(source.unix_socket)}")
    else:
        lines.append(f"host={_option_value(source.host)}")
        lines.append(f"port={source.port or 3306}")
    return "\n".join(lines) + "\n"


@contextmanager
def defaults_file(source: V1Source) -> Iterator[Path]:
    """A private option file with the credentials, removed on exit."""
    fd, name = tempfile.mkstemp(prefix="jopanel-v1-", suffix=".cnf")
    path = Path(name)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(defaults_file_text(source))
        yield path
    finally:
        path.unlink(missing_ok=True)


def dump_argv(cnf: Path, database: str, result_file: Path) -> list[str]:
    # --defaults-extra-file must be the first option for the client to honour it.
    return [
        "mariadb-dump", f"--defaults-extra-file={cnf}",
        "--single-transaction", "--quick", "--hex-blob", "--routines", "--triggers",
        "--skip-dump-date", "--default-character-set=utf8mb4",
        f"--result-file={result_file}", "--", database,
    ]  # fmt: skip


def restore_argv(cnf: Path, database: str) -> list[str]:
    return ["mariadb", f"--defaults-extra-file={cnf}", "--default-character-set=utf8mb4",
            "--batch", "--", database]  # fmt: skip


def table_stats(conn: Any, database: str) -> dict[str, tuple[int, int | None]]:
    """Base table -> (row count, CHECKSUM TABLE)."""
    stats: dict[str, tuple[int, int | None]] = {}
    with conn.cursor() as cur:
        cur.execute(
            "SELECT TABLE_NAME FROM information_schema.TABLES"
            " WHERE TABLE_SCHEMA = %s AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME",
            (database,),
        )
        tables = [str(row[0]) for row in cur.fetchall()]
        for table in tables:
            quoted = f"`{database.replace('`', '``')}`.`{table.replace('`', '``')}`"
            cur.execute(f"SELECT COUNT(*) FROM {quoted}")
            count = int(cur.fetchone()[0])
            cur.execute(f"CHECKSUM TABLE {quoted}")
            checksum = cur.fetchone()[1]
            stats[table] = (count, None if checksum is None else int(checksum))
    return stats


def scratch_name(database: str) -> str:
    suffix = f"_jopanel_verify_{secrets.token_hex(4)}"
    return database[: 64 - len(suffix)] + suffix


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _store_dump(tmp: Path, directory: Path, database: str) -> tuple[Path, str, bool]:
    """Name the dump after its content; keep an identical earlier one instead of a copy."""
    sha = _sha256(tmp)
    final = directory / f"v1-{database}-{sha[:16]}.sql"
    if final.exists() and _sha256(final) == sha:
        tmp.unlink()
        return final, sha, True
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, final)
    fsync_dir(directory)
    return final, sha, False


def verify_restore(source: V1Source, cnf: Path, dump: Path, runner: Runner) -> dict[str, int]:
    """Restore `dump` into a scratch database and compare it with V1; drop the scratch."""
    conn = source.connect()
    scratch = scratch_name(source.database)
    try:
        original = table_stats(conn, source.database)
        with conn.cursor() as cur:
            try:
                cur.execute(f"CREATE DATABASE `{scratch}` CHARACTER SET utf8mb4")
            except Exception as exc:  # noqa: BLE001 - any refusal means "cannot verify"
                raise BackupFailed(
                    f"cannot create scratch database {scratch} to verify the backup: {exc}"
                ) from None
        try:
            text = dump.read_text(encoding="utf-8")
            runner.run(restore_argv(cnf, scratch), input=text, timeout=DUMP_TIMEOUT)
            restored = table_stats(conn, scratch)
        finally:
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{scratch}`")
    except CommandFailed as exc:
        raise BackupFailed(f"the backup does not restore: {exc}") from None
    finally:
        conn.close()
    if sorted(original) != sorted(restored):
        raise BackupFailed(
            f"restored tables {sorted(restored)} differ from V1's {sorted(original)}"
        )
    for table, (rows, checksum) in original.items():
        got_rows, got_checksum = restored[table]
        if got_rows != rows:
            raise BackupFailed(f"restored `{table}` has {got_rows} rows, V1 has {rows}")
        if checksum is not None and got_checksum != checksum:
            raise BackupFailed(f"restored `{table}` has a different CHECKSUM TABLE than V1")
    return {table: rows for table, (rows, _checksum) in original.items()}


def backup(source: V1Source, directory: Path, runner: Runner | None = None) -> BackupResult:
    """Dump V1 into `directory`, verify the dump restores, return where it is."""
    runner = runner or Runner()
    try:
        ensure_dir(directory, 0o700)
    except OSError as exc:
        raise BackupFailed(f"cannot use backup directory {directory}: {exc}") from None
    tmp = directory / f".v1-{source.database}-{secrets.token_hex(6)}.sql.tmp"
    with defaults_file(source) as cnf:
        try:
            # 0600 from birth: an existing backup dir keeps its mode (maybe 0755), and
            # mariadb-dump truncates a file in place, keeping this mode while it writes.
            write_new_file(tmp, b"", 0o600)
            runner.run(dump_argv(cnf, source.database, tmp), timeout=DUMP_TIMEOUT)
            if not tmp.is_file() or tmp.stat().st_size == 0:
                raise BackupFailed("mariadb-dump wrote nothing")
            os.chmod(tmp, 0o600)
            path, sha, reused = _store_dump(tmp, directory, source.database)
        except CommandFailed as exc:
            raise BackupFailed(f"backup of {source.display} failed: {exc}") from None
        finally:
            tmp.unlink(missing_ok=True)
        try:
            tables = verify_restore(source, cnf, path, runner)
        except BackupFailed:
            # Never leave a dump that failed its check under the name of a good one.
            if not reused:
                os.replace(path, path.with_name(path.name + ".unverified"))
            raise
    return BackupResult(path=path, sha256=sha, reused=reused, tables=tables)
