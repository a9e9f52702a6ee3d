"""Observability: what a running eskit process tells its operators.

``eskit.observability.logs`` configures the logging of every process ``eskit`` starts
(text or JSON lines, context fields, redaction). Import each module for its names: this
package imports none of them, so that using one never loads the others.
"""
