"""Reproduction commands run as printed: the run's token as a shell variable, made-up credentials as sent."""

from __future__ import annotations

import os
import subprocess

from contract_tests.reproduce import mend

TOKEN = "0123456789abcdef"
URL = "http://127.0.0.1:8080/v1/deals?limit=5"


def test_the_runs_token_becomes_the_variable_in_double_quotes() -> None:
    curl = f"curl -X GET -H 'x-api-token: [Filtered]' '{URL}'"
    mended = mend(curl, {"x-api-token": TOKEN}, URL, TOKEN)
    assert mended == f"curl -X GET -H \"x-api-token: $FINTESK_CHECK_TOKEN\" '{URL}'"


def test_a_made_up_credential_is_shown_as_it_was_sent() -> None:
    url = "http://127.0.0.1:8080/v1/currencies?term=&api_token=not-valid"
    curl = (
        "curl -X GET -H 'x-api-token: [Filtered]' 'http://127.0.0.1:8080/v1/currencies?term=&api_token=%5BFiltered%5D'"
    )
    mended = mend(curl, {"x-api-token": "made up"}, url, TOKEN)
    assert mended == (
        "curl -X GET -H 'x-api-token: made up' 'http://127.0.0.1:8080/v1/currencies?term=&api_token=not-valid'"
    )


def shell_words(arguments: str) -> list[str]:
    """The words a POSIX shell makes of `arguments`, with the token in `FINTESK_CHECK_TOKEN`."""
    return subprocess.run(
        ["sh", "-c", f"printf '%s\\n' {arguments}"],
        env={**os.environ, "FINTESK_CHECK_TOKEN": TOKEN},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()


def test_the_token_in_the_query_is_spliced_in_as_the_variable() -> None:
    url = f"http://127.0.0.1:8080/v1/deals?api_token={TOKEN}&limit=5"
    curl = "curl -X GET 'http://127.0.0.1:8080/v1/deals?api_token=%5BFiltered%5D&limit=5'"
    mended = mend(curl, {}, url, TOKEN)
    assert shell_words(mended.removeprefix("curl -X GET ")) == [url]
    assert TOKEN not in mended


def test_a_header_that_embeds_the_token_keeps_the_rest_quoted() -> None:
    curl = "curl -X GET -H 'Authorization: [Filtered]' 'http://h/v1/deals'"
    mended = mend(curl, {"Authorization": f"Bearer {TOKEN}"}, "http://h/v1/deals", TOKEN)
    assert shell_words(mended.removeprefix("curl -X GET -H ")) == [
        f"Authorization: Bearer {TOKEN}",
        "http://h/v1/deals",
    ]
    assert TOKEN not in mended


def test_a_command_without_masked_values_is_left_alone() -> None:
    curl = f"curl -X GET '{URL}'"
    assert mend(curl, {"accept": "*/*"}, URL, TOKEN) == curl
