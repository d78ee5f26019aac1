"""Helpers for looking through rendered chart objects."""
from __future__ import annotations

from pathlib import Path

import yaml


def find(objects: list[dict], kind: str, name: str) -> dict:
    """The one rendered object of this kind and name."""
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: found {len(matches)} among {names(objects)}"
    return matches[0]


def names(objects: list[dict]) -> list[tuple[str, str]]:
    """(kind, name) of every rendered object."""
    return [(o["kind"], o["metadata"]["name"]) for o in objects]


def write_values(tmp_path: Path, values: dict) -> str:
    """A values file for ``--values``."""
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    return str(path)
