"""The whitelist of agent operations is pinned: adding one is a reviewed change."""

from __future__ import annotations

from jopanel.agent import ops  # noqa: F401 - importing registers every op
from jopanel.agent.registry import REGISTRY, Payload

EXPECTED_OPS = [
    "account_system_state",
    "apply_user",
    "check_configs",
    "create_user",
    "cron_add",
    "cron_list",
    "cron_remove",
    "cron_set_enabled",
    "db_create",
    "db_delete",
    "db_list",
    "db_password_set",
    "db_user_create",
    "db_user_delete",
    "db_user_grant",
    "delete_user",
    "domain_add",
    "domain_list",
    "domain_owners",
    "domain_remove",
    "domain_www_set",
    "file_chmod",
    "file_copy",
    "file_delete",
    "file_download",
    "file_list",
    "file_mkdir",
    "file_move",
    "file_read",
    "file_unzip",
    "file_upload",
    "file_zip",
    "get_config",
    "import_user",
    "index_entries",
    "list_users",
    "package_create",
    "package_delete",
    "package_get",
    "package_list",
    "package_update",
    "password_stamp",
    "php_set",
    "php_show",
    "php_version_set",
    "rebuild",
    "reconcile",
    "reserved_domains_list",
    "reserved_domains_set",
    "service_status",
    "set_password",
    "ssh_key_add",
    "ssh_key_list",
    "ssh_key_remove",
    "ssh_mode_set",
    "ssl_issue",
    "ssl_off",
    "ssl_options",
    "ssl_renew",
    "ssl_status",
    "ssl_upload",
    "suspend_user",
    "unsuspend_user",
    "update_user_config",
    "user_diff",
    "user_history",
    "user_rollback",
    "user_stats",
    "verify_password",
]


def test_op_names_are_pinned() -> None:
    assert sorted(REGISTRY) == EXPECTED_OPS


def test_every_payload_refuses_unknown_fields() -> None:
    for spec in REGISTRY.values():
        assert issubclass(spec.payload, Payload), spec.name
        assert spec.payload.model_config.get("extra") == "forbid", spec.name


# Reviewed exceptions: a field with such a name that no op ever runs. cron_add's
# `command` is stored in services.json and written into the account's crontab (checked by
# jopanel/cronspec.py); cron runs it later as the account's own uid, the agent never does.
NOT_RUN = {"cron_add": {"command"}}


def test_no_op_takes_a_command() -> None:
    suspicious = {"argv", "cmd", "command", "args", "shell_command", "exec"}
    for spec in REGISTRY.values():
        fields = set(spec.payload.model_fields) - NOT_RUN.get(spec.name, set())
        assert not suspicious & fields, spec.name
