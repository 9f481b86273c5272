"""The panel's SQL database: logins, the account index, the audit log (SPEC §7)."""
