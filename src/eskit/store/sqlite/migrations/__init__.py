"""SQL migrations of the SQLite store, applied in number order."""
