"""Reproduction commands that run as printed: the run's token as `$FINTESK_CHECK_TOKEN`, made-up credentials as sent."""

# Schemathesis masks every credential in its `curl` commands as `[Filtered]`, which keeps the token out of the output
# but leaves a command that cannot be pasted. The request as it was sent tells which masked value was the run's token
# (shown as the variable, which the shell fills in) and which one a check made up (shown as sent: no secret).

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from urllib.parse import parse_qsl, quote_plus, urlsplit

MASK = "[Filtered]"
VARIABLE = "$FINTESK_CHECK_TOKEN"


def _double_quoted(text: str, token: str) -> str:
    """`text` as one shell word in double quotes, the token replaced by the variable the shell expands."""
    parts = [re.sub(r'([\\"$`])', r"\\\1", part) for part in text.split(token)]
    return '"' + VARIABLE.join(parts) + '"'


def mend(curl: str, headers: Mapping[str, str], url: str, token: str) -> str:
    """`curl` with each masked header and query value put back: the token as the variable, others as sent."""
    for name, value in headers.items():
        masked = shlex.quote(f"{name}: {MASK}")
        if masked in curl:
            shown = (
                _double_quoted(f"{name}: {value}", token)
                if token and token in value
                else shlex.quote(f"{name}: {value}")
            )
            curl = curl.replace(masked, shown)
    for key, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        masked = f"{key}={quote_plus(MASK)}"
        if masked in curl:
            # The URL is single-quoted: close the quotes around the variable so the shell expands it.
            shown = f"{key}='\"{VARIABLE}\"'" if token and value == token else f"{key}={quote_plus(value)}"
            curl = curl.replace(masked, shown)
    return curl
