"""uvicorn's logging with the `api_token` query parameter masked, so no token reaches a log line."""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

from uvicorn.config import LOGGING_CONFIG

_TOKEN_PARAMETER = re.compile(r"((?:^|[?&;])api_token=)[^&;#\s]*", re.IGNORECASE)
MASK = "***"


def masked_path(text: str) -> str:
    """`text` with the value of every `api_token=` query parameter replaced by the mask."""
    return _TOKEN_PARAMETER.sub(rf"\g<1>{MASK}", text)


class HideTokens(logging.Filter):
    """Masks `api_token` in every argument of a record: uvicorn's access line carries the path with its query."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(masked_path(arg) if isinstance(arg, str) else arg for arg in record.args)
        if isinstance(record.msg, str) and "api_token" in record.msg:
            record.msg = masked_path(record.msg)
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's own logging configuration, with `HideTokens` on its access and error loggers."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["hide_tokens"] = {"()": HideTokens}
    for name in ("uvicorn.access", "uvicorn.error"):
        config["loggers"].setdefault(name, {})["filters"] = ["hide_tokens"]
    return config
