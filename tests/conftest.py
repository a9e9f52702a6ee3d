"""The framework's tests share eskit's own fixtures: a real PostgreSQL, a store per backend."""

pytest_plugins = ["pytester", "eskit.testing.fixtures"]
