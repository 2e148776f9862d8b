"""PostgreSQL access: the embedded server, engines, migrations and the transaction runner."""
