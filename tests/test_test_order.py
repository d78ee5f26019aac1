"""The suite's own scheduling list names files that exist (a renamed file would silently lose its place)."""
from pathlib import Path

from tests.conftest import LONGEST_FIRST


def test_every_file_listed_longest_first_exists():
    assert [name for name in LONGEST_FIRST if not (Path(__file__).parent / name).is_file()] == []
