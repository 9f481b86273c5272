"""V1 -> V2 migration (`jopanel migrate-v1`).

introspect      connect to the V1 MariaDB database, detect its shape, read its rows
backup          dump it with mariadb-dump and prove the dump restores
normalise       pure: one V1 value made acceptable to V2 (username, domain, status...)
domains         pure: V1 domains rows -> unique, typed domains.json entries
mapping         pure: V1 rows -> package payloads, account payloads, panel logins, skips
run             orchestrate: backup, packages, admins, accounts, services, verification
panel           the panel database side: logins (with their audit row), the index
verify          compare each migrated account with its V1 rows, field by field
report          the outcome of every V1 row, as a Rich table or JSON

Every V2 account, package and claim is read and written through agent ops
(`LocalAgent(settings, cached_accounts=True)`), never through the agent's context or
the config store.
"""
