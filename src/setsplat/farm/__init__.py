"""The farm: many captures, each one's ``run`` as Ray tasks on a local Ray or a cluster.

``batch(captures(["day1/set_a", "day1/set_b"], "runs"), RunConfig(...))`` runs them and
returns a summary with each capture's result. Ray is imported only when a batch runs.
"""

from .batch import BatchOptions, CaptureSpec, batch, captures
from .cluster import Cluster, connect

__all__ = ["BatchOptions", "CaptureSpec", "Cluster", "batch", "captures", "connect"]
