"""FastAPI dependencies: the registry, the caller, and Airflow's permission checks for a connector.

Authentication is Airflow's own (:data:`GetUserDep` accepts the ``/auth/token`` JWT and the UI's
session cookie). Authorization asks Airflow's configured auth manager about the connector's DAG
(``atlas__<source_name>``): reading needs DAG read access, changing needs DAG edit access, writing
credentials also needs connection edit access, and a sync needs the right to create DAG runs —
the same check as ``POST /api/v2/dags/{dag_id}/dagRuns``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.auth.managers.models.resource_details import (
    ConnectionDetails,
    DagAccessEntity,
    DagDetails,
)
from airflow.api_fastapi.core_api.security import GetUserDep
from fastapi import Depends, HTTPException, Path, status

from atlas.registry import ConnectorRegistry, RegistryEntry, entry_from_row

#: What a request does to a connector, and the auth manager method it needs on the DAG.
Action = Literal["read", "edit", "run"]
_DAG_METHOD = {"read": "GET", "edit": "PUT", "run": "POST"}


@cache
def _default_registry() -> ConnectorRegistry:
    # One engine (and its pool) per API-server worker, created on first use, not at plugin import.
    return ConnectorRegistry.default()


def get_registry() -> ConnectorRegistry:
    return _default_registry()


RegistryDep = Annotated[ConnectorRegistry, Depends(get_registry)]


def _forbidden(what: str) -> HTTPException:
    return HTTPException(status.HTTP_403_FORBIDDEN, f"Forbidden: {what}")


def authorize_dag(user: BaseUser, action: Action, dag_id: str | None = None) -> None:
    """Raise 403 unless ``user`` may ``action`` the DAG ``dag_id`` (None: DAGs in general)."""
    allowed = get_auth_manager().is_authorized_dag(
        method=_DAG_METHOD[action],
        access_entity=DagAccessEntity.RUN if action == "run" else None,
        details=DagDetails(id=dag_id),
        user=user,
    )
    if not allowed:
        target = f"DAG {dag_id!r}" if dag_id else "DAGs"
        raise _forbidden(f"{user.get_name()!r} may not {action} {target}")


def authorize_connection(user: BaseUser, method: Literal["POST", "PUT", "DELETE"], conn_id: str) -> None:
    """Raise 403 unless ``user`` may create/edit/delete the Airflow Connection ``conn_id``."""
    if not get_auth_manager().is_authorized_connection(
        method=method, details=ConnectionDetails(conn_id=conn_id), user=user
    ):
        raise _forbidden(f"{user.get_name()!r} may not change connection {conn_id!r}")


def requires_dags(action: Action):
    """Dependency for endpoints not about one connector (list, create, types)."""

    def check(user: GetUserDep) -> BaseUser:
        authorize_dag(user, action)
        return user

    return check


@dataclass(frozen=True)
class ConnectorAccess:
    """The connector named in the path, after the caller was authorized on its DAG."""

    entry: RegistryEntry
    user: BaseUser

    @property
    def row(self) -> dict[str, Any]:
        return self.entry.row

    @property
    def connector_id(self) -> str:
        return self.entry.row["connector_id"]

    @property
    def dag_id(self) -> str:
        return dag_id_of(self.entry)


def dag_id_of(entry: RegistryEntry) -> str:
    """The DAG the factory builds for a registry row (an invalid row gets a placeholder DAG)."""
    from atlas.factory import invalid_dag_id

    return entry.spec.dag_id if entry.spec is not None else invalid_dag_id(entry.row)


def requires_connector(action: Action):
    """Dependency resolving ``{connector}`` (id or source_name; 404 if unknown), then authorizing.

    Authentication runs first (401/403 before 404), so unauthenticated callers learn nothing.
    """

    def resolve(
        user: GetUserDep,
        registry: RegistryDep,
        connector: Annotated[str, Path(description="The connector's id or its source_name.")],
    ) -> ConnectorAccess:
        access = ConnectorAccess(entry_from_row(registry.get_row(connector)), user)
        authorize_dag(user, action, access.dag_id)
        return access

    return resolve


ReadConnector = Annotated[ConnectorAccess, Depends(requires_connector("read"))]
EditConnector = Annotated[ConnectorAccess, Depends(requires_connector("edit"))]
RunConnector = Annotated[ConnectorAccess, Depends(requires_connector("run"))]
