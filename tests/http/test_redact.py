"""Secrets are masked in URLs, messages and the HTTP stack's debug log."""

from __future__ import annotations

import logging

from atlas.http.redact import Redactor


def test_url_masks_secret_params_userinfo_and_known_values():
    redactor = Redactor(("appid",))
    redactor.add("tok-123456")
    url = "https://user:pw@api.example/v1/x?q=python&appid=abc&access_token=zzz&page=2&sig=tok-123456"
    assert redactor.url(url) == "https://***@api.example/v1/x?q=python&appid=***&access_token=***&page=2&sig=***"
    assert redactor.text("Bearer tok-123456 failed") == "Bearer *** failed"


def test_short_values_are_not_treated_as_secrets():
    redactor = Redactor()
    redactor.add("ab")
    assert redactor.text("abc") == "abc"


def test_http_debug_log_is_filtered_while_attached(caplog):
    redactor = Redactor()
    redactor.add("s3cr3t-key")
    logger = logging.getLogger("urllib3.connectionpool")
    caplog.set_level(logging.DEBUG, logger="urllib3.connectionpool")
    redactor.attach()
    try:
        logger.debug('"GET /x?key=%s HTTP/1.1" 200', "s3cr3t-key")
    finally:
        redactor.detach()
    logger.debug("after detach %s", "s3cr3t-key")
    assert '"GET /x?key=*** HTTP/1.1" 200' in caplog.text
    assert "after detach s3cr3t-key" in caplog.text  # proves the filter, not the log setup, masked it


def test_secrets_are_registered_with_airflows_masker():
    from airflow.sdk.log import redact

    secret = "masked-by-airflow-7f3a"
    assert redact(f"token {secret}") == f"token {secret}"  # not known yet
    Redactor().add(secret)
    assert redact(f"token {secret}") == "token ***"  # task logs go through this masker
