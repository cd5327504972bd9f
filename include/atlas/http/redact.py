"""Keeping secrets out of messages: every URL and body snippet Atlas shows passes through here."""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

log = logging.getLogger(__name__)

#: Query parameter names whose values are credentials whatever the connector says.
_SECRET_PARAM = re.compile(r"token|secret|key|password|passwd|signature|sig|auth|credential", re.IGNORECASE)
MASK = "***"
#: Shorter strings are not masked: they would garble unrelated text and are no secret worth the name.
_MIN_SECRET_LENGTH = 4


#: Loggers of the HTTP stack that write request URLs (query strings included) at DEBUG level.
_HTTP_LOGGERS = ("urllib3.connectionpool",)


class Redactor(logging.Filter):
    """Replaces known secret values and secret-looking URL parameters with ``***``.

    Each secret is also registered with Airflow's secret masker, so that task logs mask it even
    when it reaches them through a path Atlas does not control. Outside Airflow's task logging (a
    script, a test) the HTTP stack's own debug logs are filtered through :meth:`filter` while
    :meth:`attach` is in effect.
    """

    def __init__(self, secret_params: tuple[str, ...] = ()):
        super().__init__()
        self._secrets: set[str] = set()
        self._secret_params = {p.lower() for p in secret_params}

    def attach(self) -> None:
        for name in _HTTP_LOGGERS:
            logging.getLogger(name).addFilter(self)

    def detach(self) -> None:
        for name in _HTTP_LOGGERS:
            logging.getLogger(name).removeFilter(self)

    def filter(self, record: logging.LogRecord) -> bool:
        if self._secrets:
            record.msg = self.text(record.getMessage())
            record.args = None
        return True

    def add(self, secret: str | None) -> None:
        if not secret or len(secret) < _MIN_SECRET_LENGTH or secret in self._secrets:
            return
        self._secrets.add(secret)
        try:
            from airflow.sdk.log import mask_secret

            mask_secret(secret)
        except Exception:  # masking is defence in depth; our own redaction below still applies
            log.debug("Airflow's secret masker is not available in this process")

    def text(self, value: str) -> str:
        # Longest first: a secret containing another must be masked whole.
        for secret in sorted(self._secrets, key=len, reverse=True):
            value = value.replace(secret, MASK)
        return value

    def url(self, url: str) -> str:
        """The URL with secret query parameters and embedded credentials masked."""
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = f"{MASK}@{netloc.rsplit('@', 1)[1]}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            query = urlencode(
                [(k, MASK if self._is_secret_param(k) else v) for k, v in pairs], safe="*:/,"
            )
        return self.text(urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)))

    def _is_secret_param(self, name: str) -> bool:
        return name.lower() in self._secret_params or bool(_SECRET_PARAM.search(name))
