"""What a service is to ``eskit serve``: HTTP routes, gRPC handlers, projections; and which
service, or which projections, an operator named."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import grpc
from fastapi import APIRouter

from eskit.domain.aggregate import Aggregate
from eskit.errors import ConfigurationError
from eskit.messaging.consumer import Consumer
from eskit.process.queue import CommandQueue
from eskit.projections import Projection, Subscription
from eskit.projections.loading import load_projections
from eskit.settings import EskitSettings
from eskit.store import EventStoreBackend

__all__ = ["ConfiguredProjections", "Service", "ServiceParts", "load_service", "service_name"]


@dataclass(frozen=True)
class ServiceParts:
    """A service built over one store: what the process serves and runs."""

    routers: Sequence[APIRouter] = ()
    grpc_handlers: Sequence[grpc.GenericRpcHandler] = ()
    projections: Sequence[Projection] = ()
    consumers: Sequence[Consumer] = ()
    """Fed from the bus of ``ESKIT_BUS_URL``; run beside the projections when it is set."""
    processes: Sequence[Projection | Subscription] = ()
    """Sagas and asynchronous reactors: run beside the projections, never rebuilt."""
    queue: CommandQueue | None = None
    """The command queue the routes submit to; its workers run beside the projections."""
    query_grpc_handlers: Sequence[grpc.GenericRpcHandler] = ()
    """gRPC query methods served on a port of their own (``ESKIT_GRPC_QUERY_PORT``)."""
    bus_required: bool = False
    """The service's parts talk over the bus (integration events between its contexts):
    without ``ESKIT_BUS_URL`` it runs the relay and consumers on the in-process bus."""
    aggregates: Mapping[str, type[Aggregate]] = field(default_factory=dict)
    """The aggregate class each stream type folds into, by stream type: the admin console
    shows a stream's state as of any version with it."""


@dataclass(frozen=True)
class Service:
    """A named service; ``build`` wires it to a store with the process's settings."""

    name: str
    build: Callable[[EventStoreBackend, EskitSettings], ServiceParts]
    title: str = ""
    version: str = "1"
    description: str = field(default="")


def load_service(spec: str) -> Service:
    """The :class:`Service` that ``module:attribute`` names (``ESKIT_SERVICE``).

    Raises ConfigurationError if ``spec`` is empty (no service configured) or names no
    importable Service.
    """
    if not spec:
        raise ConfigurationError(
            "no service configured: pass --service module:attribute or set ESKIT_SERVICE"
        )
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


def service_name(settings: EskitSettings) -> str:
    """The name a process of the configured service goes by (in traces, say): the first
    part of ``ESKIT_SERVICE``'s module, else ``eskit``."""
    module = settings.service.partition(":")[0]
    return module.split(".")[0] or "eskit"


class ConfiguredProjections:
    """The projections an operator named: those of ``ESKIT_PROJECTIONS`` (``--projections``)
    if set, else those of the service ``ESKIT_SERVICE`` (``--service``) names.

    Made from the settings before any store is opened: raises ConfigurationError at once if
    neither is set, or if what is named cannot be imported. :meth:`build` then gives the
    projections over an open store (a service builds its parts over it).
    """

    def __init__(self, settings: EskitSettings) -> None:
        self._settings = settings
        self._listed: list[Projection] | None = None
        self._service: Service | None = None
        if settings.projections:
            self._listed = load_projections(settings.projections)
        elif settings.service:
            self._service = load_service(settings.service)
        else:
            raise ConfigurationError(
                "no projections configured: pass --service module:attribute or set "
                "ESKIT_SERVICE (or name the projections alone: --projections / "
                "ESKIT_PROJECTIONS)"
            )

    def build(self, store: EventStoreBackend) -> list[Projection]:
        """The projections, over ``store``."""
        return list(self.parts(store).projections)

    def parts(self, store: EventStoreBackend) -> ServiceParts:
        """What a worker runs over ``store``: the projections (only those, when they were
        listed), or the service's projections, processes, consumers and queue."""
        if self._listed is not None:
            return ServiceParts(projections=self._listed)
        assert self._service is not None
        return self._service.build(store, self._settings)

    def consumers(self, store: EventStoreBackend) -> list[Consumer]:
        """The service's bus consumers, over ``store`` (none when projections were listed)."""
        return list(self.parts(store).consumers)
