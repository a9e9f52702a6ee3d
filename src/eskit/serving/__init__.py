"""Running services: what a service is, and one process that serves it."""

from eskit.serving.runtime import ServiceRuntime
from eskit.serving.server import serve
from eskit.serving.service import ConfiguredProjections, Service, ServiceParts, load_service

__all__ = [
    "ConfiguredProjections",
    "Service",
    "ServiceParts",
    "ServiceRuntime",
    "load_service",
    "serve",
]
