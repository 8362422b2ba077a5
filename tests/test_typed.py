"""The package says it is typed (PEP 561): py.typed ships in the package data, beside the type hints."""

from __future__ import annotations

from pathlib import Path

import pytest

import gendersort

ROOT = Path(__file__).resolve().parent.parent


def test_py_typed_is_in_the_package_and_its_data() -> None:
    package = Path(gendersort.__file__).parent
    assert (package / "py.typed").is_file()
    tomllib = pytest.importorskip("tomllib")  # Python 3.11 and later
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "py.typed" in config["tool"]["setuptools"]["package-data"]["gendersort"]
