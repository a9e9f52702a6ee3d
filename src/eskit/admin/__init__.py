"""The admin console: server-rendered pages over a running service, at ``/admin``.

:func:`admin_app` makes the console's ASGI app from :class:`ConsoleSources` (what the
service runs); ``eskit serve`` mounts it unless ``ESKIT_ADMIN=false``. With API keys on,
a browser logs in with one of them and carries a session cookie (:class:`ConsoleSessions`).
"""

from eskit.admin.console import admin_app
from eskit.admin.sessions import ConsoleSessions
from eskit.admin.sources import ConsoleSources
from eskit.admin.state import Console

__all__ = ["Console", "ConsoleSessions", "ConsoleSources", "admin_app"]
