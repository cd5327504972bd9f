"""Warehouse fixtures (defined in destination_helpers, shared with tests/test_sync.py)."""

from tests.destinations.destination_helpers import destination, pg_destination, sqlite_destination

__all__ = ["destination", "pg_destination", "sqlite_destination"]
