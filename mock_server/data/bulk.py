"""Building an account of a million records without paying for Python's cyclic garbage collector."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def no_collection() -> Iterator[None]:
    """Pause the cyclic collector while a block allocates many long-lived records.

    Records are plain dicts and lists without cycles, so reference counting frees them; what the collector would
    do during the build is walk every record again and again, which costs a third of a big account's load time.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
