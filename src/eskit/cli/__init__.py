"""The ``eskit`` command."""
