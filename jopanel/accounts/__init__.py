"""Account and staff-login changes shared by the API, the web UI and the CLI."""
