"""The read side: subscriptions with checkpoints, projections and read models.

See :class:`Projection` for writing one, :class:`ProjectionRunner` for running them, and
the read models :class:`DocumentCollection`, ``Table`` and ``SearchIndex``.
"""

from eskit.projections.database import ReadDatabase, read_database
from eskit.projections.documents import Document, DocumentCollection, DocumentWriter
from eskit.projections.projection import Projection, ProjectionContext, handles
from eskit.projections.runner import ProjectionRunner, position_of
from eskit.projections.status import ProjectionStatus
from eskit.projections.subscription import Subscription

__all__ = [
    "Document",
    "DocumentCollection",
    "DocumentWriter",
    "Projection",
    "ProjectionContext",
    "ProjectionRunner",
    "ProjectionStatus",
    "ReadDatabase",
    "Subscription",
    "handles",
    "position_of",
    "read_database",
]
