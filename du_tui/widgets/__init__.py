"""The workstation's widgets, one per file."""
