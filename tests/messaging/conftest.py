"""Messaging tests run on real brokers, started once for the run."""

pytest_plugins = ["eskit.testing.bus_fixtures"]
