"""`jopanel serve`: the unprivileged REST API. It reaches the system only through the agent."""
