"""Paginators: how the next request follows from a page. One class per kind in :data:`PAGINATORS`.

Each paginator turns a page into the next :class:`PageRequest` or None (the end). The stop
conditions every paged kind shares (empty page, ``max_pages``, a ``has_more`` flag, a total count,
a short page for offset/page numbering) live in :class:`Paginator`; so does the loop guard: a page
whose body repeats an earlier page, or a cursor/URL seen before, stops the run with an error instead
of paging forever.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from requests.utils import parse_header_links

from atlas.exceptions import SourceError
from atlas.http.client import HttpClient, HttpResponse
from atlas.http.records import RecordError, lookup, select_records
from atlas.models import (
    CursorPagination,
    LinkHeaderPagination,
    NextUrlPagination,
    NoPagination,
    OffsetPagination,
    PagePagination,
)

Pagination = (
    NoPagination | OffsetPagination | PagePagination | CursorPagination | NextUrlPagination | LinkHeaderPagination
)
_FALSE = (False, 0, "false", "False", "0")


@dataclass(frozen=True)
class PageRequest:
    url: str
    #: Query parameters; None when the URL already carries them (a next link).
    params: dict[str, Any] | None


@dataclass(frozen=True)
class Page:
    request: PageRequest
    response: HttpResponse
    body: Any
    records: list[dict[str, Any]]


class Paginator:
    """A single request: the first page is the only one."""

    kind: ClassVar[str] = "none"

    def __init__(self, config: Pagination, client: HttpClient):
        self.config = config
        self.client = client
        self.pages = 0
        self.records = 0
        self._content_seen: dict[bytes, int] = {}
        self._links_seen: set[str] = set()

    def first(self, request: PageRequest) -> PageRequest:
        return request

    def next(self, page: Page) -> PageRequest | None:
        """The request of the page after ``page``; None when ``page`` was the last."""
        self.pages += 1
        self.records += len(page.records)
        self._guard_content(page)
        if self._done(page):
            return None
        return self._advance(page)

    def _done(self, page: Page) -> bool:
        return True

    def _advance(self, page: Page) -> PageRequest | None:
        return None

    def _guard_content(self, page: Page) -> None:
        if not page.records:
            return
        digest = hashlib.blake2b(page.response.content, digest_size=16).digest()
        earlier = self._content_seen.setdefault(digest, self.pages)
        if earlier != self.pages:
            raise self._loop(page, f"page {self.pages} has the same content as page {earlier}")

    def _once(self, page: Page, link: str, what: str) -> str:
        if link in self._links_seen:
            raise self._loop(page, f"{what} {self.client.redactor.url(link)!r} was already followed")
        self._links_seen.add(link)
        return link

    def _loop(self, page: Page, what: str) -> SourceError:
        return self.client.error(
            f"pagination loop at {self.client.redactor.url(page.response.url)}: {what}; the API ignores "
            f"the {self.kind} pagination settings or pages back to the start (check the pagination config)"
        )

    def _value(self, page: Page, path: str, what: str) -> Any:
        try:
            return lookup(page.body, path)
        except RecordError as exc:
            raise self.client.error(
                f"{self.client.redactor.url(page.response.url)}: expected {what} at {path!r}: {exc}"
            ) from None


class _PagedPaginator(Paginator):
    config: OffsetPagination | PagePagination | CursorPagination | NextUrlPagination | LinkHeaderPagination

    def first(self, request: PageRequest) -> PageRequest:
        if self.config.page_size is None:
            return request
        return replace(request, params={**(request.params or {}), self.config.page_size_param: self.config.page_size})

    def _done(self, page: Page) -> bool:
        config = self.config
        if not page.records:
            return True
        if config.max_pages is not None and self.pages >= config.max_pages:
            return True
        if config.has_more_path and self._value(page, config.has_more_path, "a has-more flag") in _FALSE:
            return True
        if config.total_path:
            total = self._value(page, config.total_path, "the total record count")
            if not isinstance(total, int) or isinstance(total, bool):
                raise self.client.error(
                    f"{self.client.redactor.url(page.response.url)}: expected an integer total at "
                    f"{config.total_path!r}, got {total!r}"
                )
            if self.records >= total:
                return True
        short = getattr(config, "stop_on_short_page", False) and config.page_size is not None
        return short and len(page.records) < config.page_size


class OffsetPaginator(_PagedPaginator):
    kind = "offset"
    config: OffsetPagination

    def first(self, request: PageRequest) -> PageRequest:
        request = super().first(request)
        return replace(request, params={**(request.params or {}), self.config.offset_param: 0})

    def _advance(self, page: Page) -> PageRequest:
        # By the records received, not the page size: an API may return fewer than asked.
        return replace(page.request, params={**page.request.params, self.config.offset_param: self.records})


class PageNumberPaginator(_PagedPaginator):
    kind = "page"
    config: PagePagination

    def first(self, request: PageRequest) -> PageRequest:
        request = super().first(request)
        return replace(request, params={**(request.params or {}), self.config.page_param: self.config.first_page})

    def _advance(self, page: Page) -> PageRequest:
        return replace(
            page.request, params={**page.request.params, self.config.page_param: self.config.first_page + self.pages}
        )


class CursorPaginator(_PagedPaginator):
    kind = "cursor"
    config: CursorPagination

    def _advance(self, page: Page) -> PageRequest | None:
        cursor = lookup(page.body, self.config.cursor_path, default=None)
        if cursor in (None, ""):
            return None
        self._once(page, str(cursor), "cursor")
        return replace(page.request, params={**(page.request.params or {}), self.config.cursor_param: cursor})


class NextUrlPaginator(_PagedPaginator):
    kind = "next_url"
    config: NextUrlPagination

    def _advance(self, page: Page) -> PageRequest | None:
        link = lookup(page.body, self.config.next_url_path, default=None)
        if not link:
            return None
        if not isinstance(link, str):
            raise self.client.error(
                f"{self.client.redactor.url(page.response.url)}: expected a URL at "
                f"{self.config.next_url_path!r}, got a {type(link).__name__}"
            )
        return PageRequest(self._once(page, self.client.resolve(link, page.response.url), "next URL"), None)


class LinkHeaderPaginator(_PagedPaginator):
    kind = "link_header"
    config: LinkHeaderPagination

    def _advance(self, page: Page) -> PageRequest | None:
        header = page.response.headers.get("Link")
        if not header:
            return None
        for link in parse_header_links(header):
            if "next" in link.get("rel", "").split():
                url = self.client.resolve(link["url"], page.response.url)
                return PageRequest(self._once(page, url, "next link"), None)
        return None


PAGINATORS: dict[str, type[Paginator]] = {
    cls.kind: cls
    for cls in (
        Paginator,
        OffsetPaginator,
        PageNumberPaginator,
        CursorPaginator,
        NextUrlPaginator,
        LinkHeaderPaginator,
    )
}


def build_paginator(config: Pagination, client: HttpClient) -> Paginator:
    """The paginator of ``config.type``; an unknown name lists the valid ones."""
    try:
        cls = PAGINATORS[config.type]
    except KeyError:
        raise client.error(f"unknown pagination type {config.type!r}; valid: {', '.join(PAGINATORS)}") from None
    return cls(config, client)


def iter_pages(
    client: HttpClient,
    paginator: Paginator,
    first: PageRequest,
    *,
    method: str = "GET",
    body: Any = None,
    record_path: str | None = None,
) -> Iterator[Page]:
    """Every page of a paginated request, each with its records selected and checked."""
    request: PageRequest | None = paginator.first(first)
    while request is not None:
        response = client.request(method, request.url, params=request.params, json=body)
        decoded = client.json(response)
        try:
            records = select_records(decoded, record_path)
        except RecordError as exc:
            raise client.error(f"{client.redactor.url(response.url)}: {exc}") from None
        page = Page(request, response, decoded, records)
        yield page
        request = paginator.next(page)
