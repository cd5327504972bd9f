"""Watermarks: how far a connector's stream has been synced, kept in Airflow Variables.

One Variable per connector and stream, named ``atlas__<source_name>__<stream>``, holding JSON::

    {"cursor": "updated_at", "type": "timestamp", "value": "2026-11-26T20:31:07.123456+00:00"}

Timestamps are stored as UTC instants with microseconds. The sync engine writes a watermark only
after the warehouse transaction holding the rows has committed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from atlas.settings import WATERMARK_VARIABLE_PREFIX, use_server_secrets_backends

_DESCRIPTION = "Atlas watermark: written only after the load that reached it committed"

CursorType = Literal["timestamp", "date", "integer", "decimal", "string"]


@dataclass(frozen=True)
class Watermark:
    """A cursor value. Timestamps are aware (UTC); integers are ints; decimals are Decimal."""

    cursor: str
    type: CursorType
    value: Any

    @classmethod
    def of(cls, cursor: str, value: Any) -> Watermark:
        """The watermark of a cursor value as read from a source (naive datetimes must be UTC already)."""
        if isinstance(value, datetime):
            aware = value if value.tzinfo else value.replace(tzinfo=UTC)
            return cls(cursor, "timestamp", aware.astimezone(UTC))
        if isinstance(value, date):
            return cls(cursor, "date", value)
        if isinstance(value, bool):
            raise TypeError(f"cursor {cursor!r}: a boolean cannot be a cursor")
        if isinstance(value, int):
            return cls(cursor, "integer", value)
        if isinstance(value, Decimal):
            return (
                cls(cursor, "integer", int(value))
                if value == value.to_integral_value()
                else cls(cursor, "decimal", value)
            )
        if isinstance(value, str):
            return cls(cursor, "string", value)
        raise TypeError(f"cursor {cursor!r}: a {type(value).__name__} value cannot be a cursor")

    @classmethod
    def parse_since(cls, cursor: str, text: str) -> Watermark:
        """A user's ``since``: an integer, or an ISO date/timestamp (naive means UTC)."""
        text = text.strip()
        if re.fullmatch(r"[+-]?\d+", text):
            return cls(cursor, "integer", int(text))
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"since={text!r} is neither an integer nor an ISO date/timestamp (e.g. 2026-01-31T00:00:00Z)"
            ) from None
        return cls.of(cursor, parsed)

    def minus_seconds(self, seconds: int) -> Watermark:
        """The lookback: the same cursor ``seconds`` earlier (only points in time move)."""
        if not seconds or self.type not in ("timestamp", "date"):
            return self
        return Watermark(self.cursor, self.type, self.value - timedelta(seconds=seconds))

    def to_json(self) -> dict[str, Any]:
        if self.type == "timestamp":
            value: Any = self.value.isoformat(timespec="microseconds")
        elif self.type == "date":
            value = self.value.isoformat()
        elif self.type == "decimal":
            value = str(self.value)
        else:
            value = self.value
        return {"cursor": self.cursor, "type": self.type, "value": value}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Watermark:
        kind, raw = data["type"], data["value"]
        value: Any
        if kind == "timestamp":
            value = datetime.fromisoformat(raw).astimezone(UTC)
        elif kind == "date":
            value = date.fromisoformat(raw)
        elif kind == "decimal":
            value = Decimal(raw)
        elif kind == "integer":
            value = int(raw)
        else:
            value = str(raw)
        return cls(data["cursor"], kind, value)

    def __str__(self) -> str:
        return f"{self.cursor} >= {self.to_json()['value']}"


def variable_key(source_name: str, stream: str) -> str:
    return f"{WATERMARK_VARIABLE_PREFIX}{source_name}__{re.sub(r'[^A-Za-z0-9_.-]', '_', stream)}"


def _in_task() -> bool:
    from airflow.sdk.execution_time import task_runner

    return getattr(task_runner, "SUPERVISOR_COMMS", None) is not None


class WatermarkStore:
    """Read and write watermarks in Airflow Variables, from a task or from a server-side process."""

    def get(self, source_name: str, stream: str) -> Watermark | None:
        raw = self._get(variable_key(source_name, stream))
        return None if raw is None else Watermark.from_json(json.loads(raw))

    def set(self, source_name: str, stream: str, watermark: Watermark) -> None:
        self._set(variable_key(source_name, stream), json.dumps(watermark.to_json()))

    def delete_all(self, source_name: str) -> int:
        """Remove every watermark of a connector (server-side only); return how many."""
        from airflow.models import Variable
        from airflow.utils.session import create_session

        prefix = variable_key(source_name, "")
        with create_session() as session:
            return session.query(Variable).filter(Variable.key.startswith(prefix)).delete(synchronize_session=False)

    # Inside a task only the SDK's Variable works (the ORM is off limits); elsewhere the SDK cannot
    # write, so the ORM model is used.
    def _get(self, key: str) -> str | None:
        if _in_task():
            from airflow.sdk import Variable

            return Variable.get(key, default=None)
        from airflow.models import Variable

        use_server_secrets_backends()
        return Variable.get(key, default_var=None)

    def _set(self, key: str, value: str) -> None:
        if _in_task():
            from airflow.sdk import Variable

            Variable.set(key, value, description=_DESCRIPTION)
            return
        from airflow.models import Variable

        Variable.set(key, value, description=_DESCRIPTION)
