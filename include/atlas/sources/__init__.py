"""Sources: one module per source type, chosen by the connector's ``source_type``."""

from __future__ import annotations

from importlib import import_module

from atlas.models import ConnectorSpec
from atlas.sources.base import Source

# Imported lazily: building DAGs must not pay for every driver.
_SOURCE_CLASSES = {
    "postgresql": "atlas.sources.postgres:PostgresSource",
    "mysql": "atlas.sources.mysql:MySqlSource",
    "sqlite": "atlas.sources.sqlite:SqliteSource",
    "rest_api": "atlas.sources.rest_api:RestApiSource",
}


def build_source(spec: ConnectorSpec) -> Source:
    module, _, name = _SOURCE_CLASSES[spec.source_type].partition(":")
    return getattr(import_module(module), name)(spec)
