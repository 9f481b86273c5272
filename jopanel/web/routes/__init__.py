"""Page routes: /login, /admin (staff), /panel (hosting accounts)."""
