"""The log file never holds a secret: registered values, bearer tokens, client_secret=, PWD=, tracebacks."""

from __future__ import annotations

import logging
import secrets

from hypothesis import given, settings
from hypothesis import strategies as st

from core.scrub import SecretScrubber, register_secret, scrub
from sync.logs import setup_logging
from sync.paths import app_paths


def _flush() -> None:
    for handler in logging.getLogger().handlers:
        handler.flush()


def test_log_file_contains_no_secret(isolated_home):
    paths = app_paths()
    log_file = setup_logging(paths, level=logging.DEBUG)
    registered = "reg-" + secrets.token_urlsafe(16)
    bearer = secrets.token_urlsafe(24)
    form_secret = secrets.token_urlsafe(12)
    password = "p@ss;w" + secrets.token_hex(4)
    register_secret(registered)
    log = logging.getLogger("ledgerbridge.test")
    log.info("signing in with %s now", registered)
    log.debug("headers {'Authorization': 'Bearer %s'}", bearer)
    log.warning("body grant_type=client_credentials&client_id=abc&client_secret=%s&scope=all", form_secret)
    log.error("connect DSN=Sage;UID=manager;PWD={%s};", password)
    try:
        try:
            raise ValueError(f"server said the secret {registered} is wrong")
        except ValueError as inner:
            raise RuntimeError(f"token Bearer {bearer} refused") from inner
    except RuntimeError:
        log.exception("sign-in failed")
    _flush()
    text = log_file.read_text(encoding="utf-8")
    assert log_file == paths.log_dir / "ledgerbridge.log"
    assert "signing in with *** now" in text
    assert "client_id=abc" in text
    assert "UID=manager" in text
    assert "Traceback" in text and "RuntimeError" in text
    for value in (registered, bearer, form_secret, password, password.split(";")[1]):
        assert value not in text


def test_setup_twice_does_not_duplicate_lines(isolated_home):
    paths = app_paths()
    setup_logging(paths)
    log_file = setup_logging(paths)
    logging.getLogger("ledgerbridge.test").info("only once")
    _flush()
    assert log_file.read_text(encoding="utf-8").count("only once") == 1


def test_scrub_patterns():
    assert scrub("PWD=abc123;UID=x") == "PWD=***;UID=x"
    assert scrub("pwd='a b';") == "pwd=***;"
    assert scrub('{"client_secret": "s3cr3t", "x": 1}') == '{"client_secret": ***, "x": 1}'
    assert scrub("authorization: Bearer abc.def") == "authorization: Bearer ***"
    assert scrub("nothing here") == "nothing here"


def test_filter_handles_bad_format_strings():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "value %s %s", ("only-one",), None)
    assert SecretScrubber().filter(record)
    assert record.args is None


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=4, max_size=40), st.text(max_size=60), st.text(max_size=60))
def test_a_known_secret_never_survives_scrubbing(secret, before, after):
    assert secret not in scrub(before + secret + after, [secret])
