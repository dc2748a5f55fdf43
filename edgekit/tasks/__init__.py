"""Tasks: what differs between classification and the tasks to come; the rest is shared (builder.py)."""
