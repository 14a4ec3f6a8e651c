"""Rules that act on workspaces over time (idle stop, maximum lifetime)."""
