"""The service's tests use eskit's fixtures: a real PostgreSQL, a store per backend."""

pytest_plugins = ["eskit.testing.fixtures"]
