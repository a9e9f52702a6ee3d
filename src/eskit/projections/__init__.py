"""The read side: subscriptions with checkpoints, projections and read models.

See :class:`Projection` for writing one (and :class:`FailurePolicy` for what it does when a
handler keeps failing), :class:`ProjectionRunner` for running them, the
read models :class:`DocumentCollection`, :class:`Table` and :class:`SearchIndex`, and
:class:`InlineProjections` for read models updated in the append's own transaction. Read
models live in the store's database (``store.transaction()``; see ``eskit.store``).
"""

from eskit.projections.documents import Document, DocumentCollection, DocumentWriter
from eskit.projections.failure import FailurePolicy
from eskit.projections.inline import InlineProjections
from eskit.projections.projection import Projection, ProjectionContext, handles
from eskit.projections.rebuild import RebuildResult, rebuild
from eskit.projections.runner import ProjectionRunner, position_of
from eskit.projections.search import SearchIndex, SearchPage, SearchQueryError, words
from eskit.projections.status import ProjectionStatus
from eskit.projections.subscription import Subscription
from eskit.projections.tables import Table, TableWriter
from eskit.projections.waiting import wait_for_checkpoint, wait_for_head, wait_for_stream_version

__all__ = [
    "Document",
    "DocumentCollection",
    "DocumentWriter",
    "FailurePolicy",
    "InlineProjections",
    "Projection",
    "ProjectionContext",
    "ProjectionRunner",
    "ProjectionStatus",
    "RebuildResult",
    "SearchIndex",
    "SearchPage",
    "SearchQueryError",
    "Subscription",
    "Table",
    "TableWriter",
    "handles",
    "position_of",
    "rebuild",
    "wait_for_checkpoint",
    "wait_for_head",
    "wait_for_stream_version",
    "words",
]
