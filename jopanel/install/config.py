"""ROOT/etc/jopanel/jopanel.toml: every setting, documented, with its default commented out."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

from ..settings import Settings

# One line of documentation per key; keys without one are still listed with their default.
DOCS = {
    "database_url": "The panel database (logins, sessions, index, audit). SQLite by default; "
    'MariaDB "mysql+pymysql://user:password@localhost/jopanel", '
    'PostgreSQL "postgresql+psycopg://user:password@localhost/jopanel".',
    "agent_socket": "The root agent's Unix socket (0660 root:jopanel).",
    "secret_key_file": "Signs API tokens and sessions (0600, the service user's).",
    "listen": "host:port of the API and web UI (nginx serves them on HTTPS port 8083).",
    "http_port": "Port the generated vhosts listen on for HTTP.",
    "https_port": "Port the generated vhosts listen on for HTTPS.",
    "uid_min": "First uid/gid JoPanel gives to hosting accounts.",
    "uid_max": "Last uid/gid JoPanel gives to hosting accounts.",
    "service_user": "The unprivileged user (and group) the API runs as.",
    "history_limit": "Config revisions kept per account.",
    "agent_allowed_uids": "Extra uids the agent accepts (root and the service group always).",
    "trusted_proxies": "Proxies whose X-Forwarded-For/-Proto the API believes.",
    "max_body_bytes": "Largest API request body.",
    "max_upload_bytes": "Largest file manager upload.",
    "mariadb_credentials_file": "JoPanel's MariaDB login ([client] file, 0600 root); "
    "without it root over mariadb_socket.",
    "mariadb_socket": "The MariaDB server's socket.",
    "nginx_reload": "argv that reloads nginx (empty: systemctl on /, nothing in a sandbox).",
    "phpfpm_reload": "argv that reloads PHP-FPM.",
    "sshd_reload": "argv that reloads sshd.",
    "acme_directory": "The ACME server's directory URL (Let's Encrypt production).",
    "acme_ca_bundle": "A CA bundle to trust for the ACME server (a test CA); unset: the system's.",
    "acme_contact": "Contact e-mail of the ACME account.",
    "panel_port": "The panel's HTTPS port (JoPanel's nginx block in front of `listen`).",
    "panel_hostname": "The panel's name (unset: this machine's FQDN); an ACME certificate "
    "replaces the self-signed one when it resolves to this machine.",
}
HIDDEN = {"root", "fault_point", "command_path"}  # root: a command-line choice; the rest: tests


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(str(value))  # a TOML basic string: JSON's escaping is a subset


def render_config(settings: Settings, active: dict[str, Any]) -> str:
    """The file: `active` keys set, every other key commented out at its default."""
    lines = [
        "# JoPanel settings (written by `jopanel install`; edit and restart the services).",
        "# A commented line shows the default. JOPANEL_<KEY> environment variables override",
        "# this file. `jopanel doctor` checks the result.",
        "",
    ]
    for name, field in type(settings).model_fields.items():
        if name in HIDDEN:
            continue
        doc = DOCS.get(name) or field.description
        if doc:
            lines += textwrap.wrap(doc, 86, initial_indent="# ", subsequent_indent="# ")
        if name in active:
            lines.append(f"{name} = {toml_value(active[name])}")
        elif field.default is None:
            lines.append(f"# {name} =   (unset)")
        else:
            lines.append(f"# {name} = {toml_value(field.default)}")
        lines.append("")
    return "\n".join(lines)


def set_key(text: str, name: str, value: Any) -> str:
    """`text` with `name` set to `value` (an existing line replaced, else appended)."""
    line = f"{name} = {toml_value(value)}"
    pattern = re.compile(rf"^#?\s*{re.escape(name)}\s*=.*$", re.MULTILINE)
    if pattern.search(text):
        return pattern.sub(lambda _m: line, text, count=1)
    return text.rstrip("\n") + f"\n{line}\n"


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"
