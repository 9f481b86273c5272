"""JoPanel V2: a Linux hosting control panel whose source of truth is the system itself."""

__version__ = "2.0.0.dev0"
