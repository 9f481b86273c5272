"""The panel's SQL database: logins, the account index, the audit log; never the truth
about an account."""
