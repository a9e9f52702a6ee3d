import inspect

import pytest

import eskit

pytestmark = pytest.mark.unit


def test_all_names_exactly_what_the_package_exports() -> None:
    public = {name for name in vars(eskit) if not name.startswith("_")} - {
        "app",
        "domain",
        "errors",
        "settings",
        "store",
        "cli",
        "projections",
        "testing",
        "http",
        "grpc",
        "serving",
        "messaging",
        "process",
        "observability",
        "logcontext",
        "admin",
    }
    assert set(eskit.__all__) - {"__version__"} == public


def test_every_exported_name_has_a_docstring() -> None:
    for name in eskit.__all__:
        value = getattr(eskit, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__doc__, name
