"""SQL migrations of the PostgreSQL store, applied in number order."""
