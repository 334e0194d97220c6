"""The bundled fixture files as tests read them, to compute expectations independently of the mock's code."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import yaml

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "default"
RESOURCE_MISSING = "A resource required for this operation was not found."


@cache
def _read(name: str) -> Any:
    return yaml.safe_load((FIXTURES / f"{name}.yaml").read_text(encoding="utf-8"))


def fixture(name: str) -> Any:
    """A fresh copy of one fixture file: a list of records, or the company mapping."""
    return copy.deepcopy(_read(name))


def by_id(name: str) -> dict[int, dict[str, Any]]:
    return {record["id"]: record for record in fixture(name)}


def weighted(deal: dict[str, Any]) -> float:
    """Value × the deal's probability, else its stage's; a pipeline without probabilities weighs 100%."""
    stage = next(stage for stage in _read("stages") if stage["id"] == deal["stage_id"])
    pipeline = next(pipeline for pipeline in _read("pipelines") if pipeline["id"] == stage["pipeline_id"])
    if deal.get("probability") is not None:
        probability = deal["probability"]
    elif pipeline["deal_probability"]:
        probability = stage["deal_probability"]
    else:
        probability = 100
    return round(deal["value"] * probability / 100, 2)
