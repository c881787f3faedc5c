"""Logs never carry a credential, whoever passes one."""

import json

import structlog

from services.observability import configure_logging


def test_token_fields_are_redacted(capsys) -> None:
    configure_logging(json=True)
    try:
        structlog.get_logger().info("credential.used", token="hpk_secret", unit="x")
        line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    finally:  # later tests must not log to this test's captured (then closed) stderr
        structlog.reset_defaults()
    assert line["token"] == "[redacted]" and line["unit"] == "x"
