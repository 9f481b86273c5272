"""Panel login secrets: password hashing shared by the API, the CLI and the V1 migration."""
