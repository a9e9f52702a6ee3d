"""The framework's tests share eskit's own fixtures: a real PostgreSQL, a store per backend,
real brokers and a bus per adapter."""

import os

# pytest-xdist's workers inherit COLUMNS=80 and LINES=24; rich fixes a console's size when
# both are set as it is made, and the CLI's console is made at import: the CLI tests pass
# the width they want in COLUMNS, which only a console made without them follows
for _name in ("COLUMNS", "LINES"):
    os.environ.pop(_name, None)

pytest_plugins = ["pytester", "eskit.testing.fixtures", "eskit.testing.bus_fixtures"]
