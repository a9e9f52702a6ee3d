"""Finding an application's projections from a ``module:attribute`` setting."""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from eskit.errors import ConfigurationError
from eskit.projections.projection import Projection

__all__ = ["load_projections"]


def load_projections(spec: str) -> list[Projection]:
    """The projections ``spec`` names: ``package.module:attribute``, a list or a function.

    Raises ConfigurationError naming what could not be found.
    """
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise ConfigurationError(
            f"projections must be named as module:attribute (ESKIT_PROJECTIONS), got {spec!r}"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(f"cannot import {module_name!r}: {exc}") from exc
    found = getattr(module, attribute, None)
    if found is None:
        raise ConfigurationError(f"{module_name!r} has no attribute {attribute!r}")
    value = found() if callable(found) and not isinstance(found, Sequence) else found
    if not isinstance(value, Sequence) or not all(isinstance(p, Projection) for p in value):
        raise ConfigurationError(f"{spec!r} is not a list of projections")
    return list(value)
