"""The served path a request for an unknown one most resembles, for the 404's "did you mean" (`/api/v2/deals` ->
`/v1/deals`). Each prefix the API is served under is given, so that another one (an alias) needs no change here."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from difflib import SequenceMatcher

# The least resemblance worth suggesting: a segment that differs by a letter or two, not another word.
THRESHOLD = 0.75
# The most segments looked at: a path longer than any served one is still looked at by its last ones.
MAX_SEGMENTS = 12


class NearestPath:
    """The API's path templates (`/deals/{id}`), each served under every one of `prefixes` (`/v1`)."""

    def __init__(self, templates: Iterable[str], prefixes: Sequence[str]) -> None:
        self.prefixes = tuple(prefix.rstrip("/") for prefix in prefixes)
        self.templates = [tuple(template.strip("/").split("/")) for template in templates]

    def __call__(self, path: str) -> str | None:
        """The served path most like `path` (under the first prefix), with `path`'s own values in the template's
        parameters; None when none resembles it."""
        segments = [segment for segment in path.strip("/").split("/") if segment][-MAX_SEGMENTS:]
        best: tuple[float, int, str] | None = None
        # Any leading segments may be a prefix the API does not serve (`/api/v2`): each tail of the path is tried.
        for start in range(len(segments)):
            tail = segments[start:]
            for template in self.templates:
                score = _resemblance(tail, template)
                if score >= THRESHOLD and (best is None or (score, len(tail)) > best[:2]):
                    best = (score, len(tail), _filled(template, tail))
        if best is None or not self.prefixes:
            return None
        return self.prefixes[0] + best[2]


def _is_parameter(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


def _resemblance(tail: Sequence[str], template: Sequence[str]) -> float:
    """0 to 1: how alike a path's segments are to a template's, a parameter matching any value."""
    if len(tail) != len(template):
        return 0.0
    scores = [1.0 if _is_parameter(want) else SequenceMatcher(None, got.lower(), want.lower()).ratio()
              for got, want in zip(tail, template, strict=True)]  # fmt: skip
    literal = [score for score, want in zip(scores, template, strict=True) if not _is_parameter(want)]
    if not literal or min(literal) < THRESHOLD - 0.15:  # every named segment must be close, not just the mean
        return 0.0
    return sum(scores) / len(scores)


def _filled(template: Sequence[str], tail: Sequence[str]) -> str:
    return "/" + "/".join(got if _is_parameter(want) else want for got, want in zip(tail, template, strict=True))
