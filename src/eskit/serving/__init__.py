"""Running services: what a service is, and one process that serves it."""

from eskit.serving.ports import PortInUseError, check_ports
from eskit.serving.runtime import ServiceRuntime
from eskit.serving.server import serve
from eskit.serving.service import ConfiguredProjections, Service, ServiceParts, load_service

__all__ = [
    "ConfiguredProjections",
    "PortInUseError",
    "Service",
    "ServiceParts",
    "ServiceRuntime",
    "check_ports",
    "load_service",
    "serve",
]
