"""The framework's tests share eskit's own fixtures: a real PostgreSQL, a store per backend,
real brokers and a bus per adapter."""

pytest_plugins = ["pytester", "eskit.testing.fixtures", "eskit.testing.bus_fixtures"]
