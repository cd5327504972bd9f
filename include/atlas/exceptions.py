"""The few errors Atlas raises. Each message names the connector and, where it applies, the field."""

from __future__ import annotations


class AtlasError(Exception):
    """Base of every error Atlas raises on purpose."""


class ConnectorConfigError(AtlasError):
    """A connector's definition is invalid. ``errors`` holds ``(field_path, message)`` pairs."""

    def __init__(self, connector: str, errors: list[tuple[str, str]]):
        self.connector = connector
        self.errors = errors
        detail = "; ".join(f"{path or '<body>'}: {msg}" for path, msg in errors)
        super().__init__(f"connector {connector!r}: {detail}")


class ConnectorNotFound(AtlasError):
    """No connector with that id or source_name exists in the registry."""


class DuplicateConnector(AtlasError):
    """A connector with that source_name already exists."""


class RegistryUnavailable(AtlasError):
    """The registry database could not be reached."""


class SourceError(AtlasError):
    """Reading from a source failed: unreachable, refused, or the data is not what the connector says."""


class DestinationError(AtlasError):
    """Loading into the warehouse failed, e.g. an incompatible schema change."""


class DeletesRefused(AtlasError):
    """Delete detection found more rows gone from the source than ``max_delete_fraction`` allows."""
