"""The runtime: work queue, informers, leader election, shards and HTTP servers, blind to
Applications."""

from clew.controller.runtime.informer import Informer, InformerFactory
from clew.controller.runtime.leader import LeaderElector
from clew.controller.runtime.metrics_auth import serve_metrics
from clew.controller.runtime.queue import QueueShutdown, WorkQueue
from clew.controller.runtime.server import RunningServer, serve
from clew.controller.runtime.sharding import NotOwned, Shard
from clew.controller.runtime.shards import owner, view_digest

__all__ = [
    "Informer",
    "InformerFactory",
    "LeaderElector",
    "NotOwned",
    "QueueShutdown",
    "RunningServer",
    "Shard",
    "WorkQueue",
    "owner",
    "serve",
    "serve_metrics",
    "view_digest",
]
