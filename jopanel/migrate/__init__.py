"""V1 -> V2 migration (`jopanel migrate-v1`, SPEC §8).

introspect  connect to the V1 MariaDB database, detect its shape, read its rows
backup      dump it with mariadb-dump and prove the dump restores
mapping     pure: V1 rows -> package payloads, account payloads, panel logins, skips
run         orchestrate: backup, packages, admins, accounts, verification, report
verify      compare each migrated account with its V1 rows, field by field
report      the outcome of every V1 row, as a Rich table or JSON
"""
