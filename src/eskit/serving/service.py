"""What a service is to ``eskit serve``: HTTP routes, gRPC handlers, projections."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import grpc
from fastapi import APIRouter

from eskit.errors import ConfigurationError
from eskit.projections import Projection
from eskit.settings import EskitSettings
from eskit.store import EventStoreBackend

__all__ = ["Service", "ServiceParts", "load_service"]


@dataclass(frozen=True)
class ServiceParts:
    """A service built over one store: what the process serves and runs."""

    routers: Sequence[APIRouter] = ()
    grpc_handlers: Sequence[grpc.GenericRpcHandler] = ()
    projections: Sequence[Projection] = ()


@dataclass(frozen=True)
class Service:
    """A named service; ``build`` wires it to a store with the process's settings."""

    name: str
    build: Callable[[EventStoreBackend, EskitSettings], ServiceParts]
    title: str = ""
    version: str = "1"
    description: str = field(default="")


def load_service(spec: str) -> Service:
    """The :class:`Service` that ``module:attribute`` names (``ESKIT_SERVICE``)."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ConfigurationError(f"ESKIT_SERVICE={spec!r}: expected 'module:attribute'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        message = f"ESKIT_SERVICE={spec!r}: cannot import {module_name}: {exc}"
        raise ConfigurationError(message) from exc
    found = getattr(module, attribute, None)
    if not isinstance(found, Service):
        raise ConfigurationError(f"ESKIT_SERVICE={spec!r}: {attribute} is not an eskit Service")
    return found
