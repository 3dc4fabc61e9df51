"""The runtime: work queue, informers, leader election and HTTP servers, blind to Applications."""

from clew.controller.runtime.informer import Informer, InformerFactory
from clew.controller.runtime.leader import LeaderElector
from clew.controller.runtime.metrics_auth import serve_metrics
from clew.controller.runtime.queue import QueueShutdown, WorkQueue
from clew.controller.runtime.server import RunningServer, serve

__all__ = [
    "Informer",
    "InformerFactory",
    "LeaderElector",
    "QueueShutdown",
    "RunningServer",
    "WorkQueue",
    "serve",
    "serve_metrics",
]
