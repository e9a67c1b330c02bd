"""Timestamps as the catalog and the run logs store them: UTC, ISO 8601, sortable."""

from __future__ import annotations

from datetime import datetime, timezone


def now() -> str:
    """UTC now, to the microsecond (two writes in a row still sort in order)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
