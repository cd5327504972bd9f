"""A paginated JSON API served by pytest-httpserver: the same records behind every pagination style.

Handlers record each request (arrival time, path, query) so tests assert on what the server saw.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def make_record(i: int, *, minutes: int | None = None) -> dict[str, Any]:
    """Record ``i``: scalars of every JSON type, a nested object and an array, a timestamp cursor."""
    updated = EPOCH + timedelta(minutes=i if minutes is None else minutes)
    return {
        "id": i,
        "name": f"record {i}",
        "score": i / 4,
        "active": i % 2 == 0,
        "updated_at": updated.isoformat().replace("+00:00", "Z"),
        "owner": {"login": f"user{i % 3}", "id": i % 3},
        "tags": [f"t{i % 2}", "all"],
    }


@dataclass
class FakeApi:
    """``records`` served at ``path`` in the ``style`` of pagination; filters on ``since`` if sent."""

    server: HTTPServer
    records: list[dict[str, Any]]
    style: str = "offset"
    path: str = "/api/things"
    seen: list[Request] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)

    def install(self) -> FakeApi:
        self.server.expect_request(self.path).respond_with_handler(self)
        return self

    def __call__(self, request: Request) -> Response:
        self.arrivals.append(time.monotonic())
        self.seen.append(request)
        args = request.args
        records = self.records
        if "since" in args:
            since = args["since"]
            records = [r for r in records if r["updated_at"] >= since]
        return getattr(self, f"_{self.style}")(request, args, records)

    def _offset(self, request, args, records):
        offset, limit = int(args.get("offset", 0)), int(args.get("limit", 10))
        return _json({"items": records[offset : offset + limit], "total": len(records)})

    def _page(self, request, args, records):
        page, size = int(args.get("page", 1)), int(args.get("per_page", 10))
        return _json({"data": {"results": records[(page - 1) * size : page * size]}})

    def _cursor(self, request, args, records):
        start, limit = int(args.get("cursor", 0)), int(args.get("limit", 10))
        chunk = records[start : start + limit]
        more = start + limit < len(records)
        return _json({"items": chunk, "next_cursor": str(start + limit) if more else None, "has_more": more})

    def _next_url(self, request, args, records):
        start, limit = int(args.get("after", 0)), int(args.get("limit", 10))
        chunk = records[start : start + limit]
        nxt = f"{self.path}?after={start + limit}&limit={limit}" if start + limit < len(records) else None
        return _json({"results": chunk, "next": nxt})

    def _link_header(self, request, args, records):
        page, size = int(args.get("page", 1)), int(args.get("per_page", 10))
        chunk = records[(page - 1) * size : page * size]
        headers = {}
        if page * size < len(records):
            base = self.server.url_for(self.path)
            headers["Link"] = f'<{base}?page={page + 1}&per_page={size}>; rel="next", <{base}?page=1>; rel="first"'
        return _json(chunk, headers)


def _json(body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), content_type="application/json", headers=headers)
