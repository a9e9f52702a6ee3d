"""Making sure the ports a server is to listen on are free, before anything starts.

``eskit serve`` opens the store, runs projections and announces itself before its HTTP
server binds; a second server on a port in use would do all that, then fail. And gRPC
sets SO_REUSEPORT, so on Linux a second server could even join the first one's gRPC
port. :func:`check_ports` binds each port once, without SO_REUSEPORT, and refuses at
once if another socket holds it.
"""

from __future__ import annotations

import errno
import socket

from eskit.errors import ConfigurationError, EskitError
from eskit.settings import EskitSettings

__all__ = ["PortInUseError", "check_port", "check_ports"]


class PortInUseError(EskitError):
    """A port the server should listen on is held by another socket (another server?)."""

    code = "port_in_use"

    def __init__(self, host: str, port: int, listener: str, option: str) -> None:
        super().__init__(
            f"port {port} ({listener}) on {host} is in use: another process listens there; "
            f"stop it or choose another port ({option})"
        )
        self.host = host
        self.port = port
        self.listener = listener


def check_ports(settings: EskitSettings, *, http: bool = True) -> None:
    """Check the HTTP port (unless ``http`` is false) and the gRPC port (unless 0).

    Raises PortInUseError for the first port held by another socket, ConfigurationError
    for one that cannot be bound for another reason (an unknown host, a privileged port).
    """
    if http:
        check_port(settings.host, settings.port, "HTTP", option="--port / ESKIT_PORT")
    if settings.grpc_port:
        check_port(
            settings.host, settings.grpc_port, "gRPC", option="--grpc-port / ESKIT_GRPC_PORT"
        )


def check_port(host: str, port: int, listener: str, *, option: str) -> None:
    """Bind ``port`` on each address of ``host`` and let it go again (port 0: nothing to do).

    ``listener`` ("HTTP", "gRPC") and ``option`` (how to choose another port) go into the
    error. Raises PortInUseError or ConfigurationError as :func:`check_ports` does.
    """
    if port == 0:
        return
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:
        raise ConfigurationError(f"cannot listen on {host}:{port} ({listener}): {exc}") from exc
    for family, kind, protocol, _, address in dict.fromkeys(addresses):
        with socket.socket(family, kind, protocol) as sock:
            # as the servers themselves do: a port whose last connections linger in
            # TIME_WAIT is free to listen on, one with a listener is not
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise PortInUseError(host, port, listener, option) from exc
                message = f"cannot listen on {host}:{port} ({listener}): {exc.strerror or exc}"
                raise ConfigurationError(message) from exc
