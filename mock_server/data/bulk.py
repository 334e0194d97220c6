"""Building an account of a million records without paying for Python's cyclic garbage collector."""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# Called when the last paused block ends having left more than `MANY_KEPT` new objects, before the collector
# resumes. `serve` passes gc.freeze: the collector's first pass over a freshly built 100k-deal account (or a
# parsed state import) walks millions of objects in one call, for up to seconds, on whichever thread allocates
# next, the event loop's too. Frozen objects are never walked again. Not after every block: a freeze also keeps
# whatever cyclic garbage is about at that moment for good. A few thousand are many already: the collection after
# a block walks every object the block left and every item of the containers among them (the first search of a
# 100k-deal account left lists of 100k records: a young collection of 10-20 ms, on a worker thread holding the GIL).
settle: Callable[[], None] | None = None
MANY_KEPT = 5_000
# Blocks running with the collector paused (in any thread), and whether to resume it when the last one ends.
_pause = threading.Lock()
_working = 0
_resume = False


@contextmanager
def no_collection() -> Iterator[None]:
    """Pause the cyclic collector while a block allocates many long-lived records.

    Records are plain dicts and lists without cycles, so reference counting frees them; what the collector would
    do during the build is walk every record again and again, which costs a third of a big account's load time.
    Blocks may run at once in several threads (a state import's parse, a big account's request): the collector
    stays paused until the last of them ends, and is then settled (see `settle`) and resumed.
    """
    global _working, _resume
    with _pause:
        if _working == 0:
            _resume = gc.isenabled()
            gc.disable()
        _working += 1
    try:
        yield
    finally:
        with _pause:
            _working -= 1
            if _working == 0 and _resume:
                if settle is not None and gc.get_count()[0] > MANY_KEPT:
                    settle()
                gc.enable()
