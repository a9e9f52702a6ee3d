"""Observability: what operators see of a running eskit process (metrics, tracing, logs).

Each concern has a module of its own; import from those (this package exports nothing, so
that each can be added without touching the others).
"""
