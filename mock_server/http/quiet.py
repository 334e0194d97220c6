"""Deprecation warnings of the libraries the mock is built on, kept out of a user's test run.

Connexion imports jsonschema's `RefResolver`, and Starlette's test client anyio's `BlockingPortal` alias, both
deprecated: warnings about their code, which a user of the mock can do nothing about, yet each run of a user's
tests with the pytest fixture would end with them. They are filtered here, where those libraries are imported (and
where the plugin builds its app), inside `warnings.catch_warnings()`: the user's own warning settings stay as
they are, and warnings of the user's code (or of this package) still show.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

# Warnings attributed to a module of these packages (where the deprecated name is used) are not shown.
THIRD_PARTY = r"(connexion|starlette|jsonschema|anyio|uvicorn|httpx|schemathesis|hypothesis)(\.|$)"


@contextmanager
def third_party_deprecations_ignored() -> Iterator[None]:
    with warnings.catch_warnings():
        for category in (DeprecationWarning, PendingDeprecationWarning):
            warnings.filterwarnings("ignore", category=category, module=THIRD_PARTY)
        yield


with third_party_deprecations_ignored():
    # Imported once, here, under the filter: later imports of them find them imported and warn no more.
    import connexion  # noqa: F401
    import connexion.json_schema  # noqa: F401
    import starlette.testclient  # noqa: F401
