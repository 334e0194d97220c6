"""The request log: a line per request (the control plane's aside): method, path (no token), status, time, tenant."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from starlette.types import ASGIApp, Receive, Scope, Send

from mock_server.http.asgi import StatusRecorder

logger = logging.getLogger("fintesk_mock.access")
SECRET_PARAMETERS = frozenset({"api_token"})
FORMATS = ("text", "json")


_TOKEN_PARAMETER = re.compile(r"((?:^|[?&;])api_token=)[^&;#\s]*", re.IGNORECASE)


def masked_path(text: str) -> str:
    """`text` with the value of every `api_token=` query parameter replaced by `***`."""
    return _TOKEN_PARAMETER.sub(r"\g<1>***", text)


class HideTokens(logging.Filter):
    """Masks the `api_token` values of a record's message, on any handler it guards (uvicorn's loggers among them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        # The message is masked as it will read, its arguments put in: a token may be an argument of a message
        # whose format holds the `api_token=`, or the other way round.
        message = record.getMessage()
        if "api_token" in message.lower():
            record.msg, record.args = masked_path(message), None
        return True


def logged_path(scope: Scope) -> str:
    """The path as the client sent it (percent-encoded, so one line stays one line) and its query without tokens."""
    raw = scope.get("raw_path")
    path = raw.decode("latin-1") if raw else quote(scope.get("path", ""))
    query = [
        (name, value)
        for name, value in parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        if name not in SECRET_PARAMETERS
    ]
    return f"{path}?{urlencode(query)}" if query else path


class AccessLogMiddleware:
    """Logs every request at info once it is answered, those the API does not serve too, but for those under
    `unlogged` (the control plane); `tenant_of` names its tenant as a log may show it (masked, never the token)."""

    def __init__(
        self,
        app: ASGIApp,
        tenant_of: Callable[[Scope], str] = lambda _scope: "",
        unlogged: tuple[str, ...] = ("/__mock__",),
    ) -> None:
        self.app = app
        self.tenant_of = tenant_of
        self.unlogged = unlogged

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if (
            scope["type"] != "http"
            or any(path == prefix or path.startswith(prefix + "/") for prefix in self.unlogged)
            or not logger.isEnabledFor(logging.INFO)
        ):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        answer = StatusRecorder(send)
        try:
            await self.app(scope, receive, answer)
        finally:
            request = {
                "method": scope["method"],
                "path": logged_path(scope),
                "status": answer.status,
                "ms": round((time.perf_counter() - started) * 1000, 1),
                "tenant": self.tenant_of(scope) or "-",
            }
            logger.info(
                "%(method)s %(path)s %(status)s %(ms).1fms tenant=%(tenant)s", request, extra={"request": request}
            )


class JsonLines(logging.Formatter):
    """A record as one JSON object: time, level, logger and message, and a request's fields where it has them."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "request", {}),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def logging_config(level: str, log_format: str) -> dict[str, Any]:
    """The `logging.config.dictConfig` of a server: the mock's and uvicorn's loggers at `level`, as text (uvicorn's
    look) or as JSON lines; the request log on stdout, everything else on stderr, uvicorn's access log off."""
    formatter: dict[str, Any] = (
        {"()": JsonLines}
        if log_format == "json"
        else {"()": "uvicorn.logging.DefaultFormatter", "fmt": "%(levelprefix)s %(message)s"}
    )
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"mock": formatter},
        "filters": {"hide_tokens": {"()": HideTokens}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "mock",
                "stream": "ext://sys.stderr",
                "filters": ["hide_tokens"],
            },
            "stdout": {
                "class": "logging.StreamHandler",
                "formatter": "mock",
                "stream": "ext://sys.stdout",
                "filters": ["hide_tokens"],
            },
        },
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
            "fintesk_mock": {"handlers": ["stderr"], "level": level, "propagate": False},
            "fintesk_mock.access": {"handlers": ["stdout"], "level": level, "propagate": False},
        },
    }
