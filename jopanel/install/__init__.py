"""`jopanel install|upgrade|uninstall`: JoPanel as services on a server (or a sandbox root).

Every step looks before it writes, so running install again changes nothing.
"""
