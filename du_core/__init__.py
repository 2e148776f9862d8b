"""Digital Utopia's domain core: every operation of the platform as a plain function.

The core knows accounts, sessions, roles, money, orders and the audit trail, and talks to
PostgreSQL through SQLAlchemy. It never imports a front end (typer, rich, textual, du_cli,
du_tui): the CLI and the TUI parse input, call a service and render the typed result.
"""

__version__ = "0.1.0"
