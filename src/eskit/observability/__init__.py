"""Observability: what a running eskit process tells its operators: metrics, traces, logs.

Each concern has a module of its own (``metrics``, ``tracing``, ``logs``); import from
those. This package imports none of them, so that using one never loads the others.
"""
