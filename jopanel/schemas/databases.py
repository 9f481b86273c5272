"""The `databases` section of services.json: which MariaDB databases and DB users an
account owns (the truth reconcile brings MariaDB's catalogue in line with).

Names are full MariaDB names, `<username>_<suffix>`; that the prefix is the account's own
username is checked where the username is known (jopanel.agent.databases), the shape here.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

# MariaDB allows 64 characters in a database name and 80 in a user name (identifiers are
# then only ever [a-z0-9_], so quoting with backticks is enough and nothing needs escaping
# but the `_` wildcard in GRANT).
DB_NAME_MAX = 64
DB_USER_MAX = 80
DB_NAME_RE = r"^[a-z][a-z0-9]{2,15}_[a-z0-9_]{1,62}$"
NATIVE_HASH_RE = r"^\*[0-9A-F]{40}$"

DbName = Annotated[str, Field(max_length=DB_NAME_MAX, pattern=DB_NAME_RE)]
DB_USER_RE = r"^[a-z][a-z0-9]{2,15}_[a-z0-9_]{1,78}$"
DbUserName = Annotated[str, Field(max_length=DB_USER_MAX, pattern=DB_USER_RE)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Database(_Strict):
    name: DbName


class DbUser(_Strict):
    """A DB user `'<name>'@'localhost'`: ALL PRIVILEGES on exactly `databases`, nothing else.

    `password_hash` is MariaDB's mysql_native_password hash (`*` + 40 hex), so a user that
    went missing is recreated with the same password; services.json is 0600 root."""

    name: DbUserName
    databases: list[DbName] = []
    password_hash: str = Field(pattern=NATIVE_HASH_RE)


class Databases(_Strict):
    databases: list[Database] = []
    users: list[DbUser] = []

    def names(self) -> list[str]:
        return [d.name for d in self.databases]

    def foreign(self, username: str) -> list[str]:
        """Names outside `<username>_` (a sibling account's `joko2_blog` under `joko`)."""
        prefix = f"{username}_"
        listed = [*self.names(), *(u.name for u in self.users)]
        return [n for n in listed if not n.startswith(prefix)]

    def user(self, name: str) -> DbUser | None:
        return next((u for u in self.users if u.name == name), None)

    @model_validator(mode="after")
    def _consistent(self) -> Databases:
        names = self.names()
        if len(set(names)) != len(names):
            raise ValueError("a database is listed twice")
        users = [u.name for u in self.users]
        if len(set(users)) != len(users):
            raise ValueError("a DB user is listed twice")
        for user in self.users:
            unknown = sorted(set(user.databases) - set(names))
            if unknown:
                raise ValueError(f"DB user {user.name} is granted unknown {', '.join(unknown)}")
            if len(set(user.databases)) != len(user.databases):
                raise ValueError(f"DB user {user.name} lists a database twice")
        return self
