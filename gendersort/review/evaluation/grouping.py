"""`--by COLUMN` and `--by COLUMN:EDGES`: which group a labels file's value falls in, and the groups' order.

A column is grouped by its values as written, or, given edges, by numeric bands: `age:0,3,10` makes the
bands [0, 3), [3, 10) and [10, ...). Whole-number edges are read as whole years or counts and named as
people write age bands ("0-2", "3-9", "10+"); other edges name their bands "[0.5, 1.5)".
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from gendersort.errors import BadOptionError

BLANK = "(blank)"  # the group of rows that leave the column empty


@dataclass(frozen=True)
class GroupBy:
    column: str
    edges: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "edges", tuple(float(edge) for edge in self.edges))  # 18 and 18.0 alike

    @classmethod
    def parse(cls, spec: str) -> GroupBy:
        """`race` or `age:0,3,10,20`; bad edges are a usage error."""
        column, _, edges = spec.partition(":")
        column = column.strip()
        if not column:
            raise BadOptionError(f"--by {spec!r} names no column")
        if not edges:
            return cls(column)
        try:
            numbers = tuple(float(edge) for edge in edges.split(","))
        except ValueError:
            raise BadOptionError(f"--by {spec!r}: the bands' edges must be numbers (age:0,3,10)") from None
        if not all(math.isfinite(edge) for edge in numbers) or list(numbers) != sorted(set(numbers)):
            raise BadOptionError(f"--by {spec!r}: the edges must be finite and increasing")
        return cls(column, numbers)

    def group_of(self, value: str) -> str:
        """The group of one value; ValueError for a value of a banded column that is not a number."""
        value = value.strip()
        if not value:
            return BLANK
        if not self.edges:
            return value
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(value)
        if number < self.edges[0]:
            return f"<{self.edge_text(0)}"
        index = max(i for i, edge in enumerate(self.edges) if number >= edge)
        return self.band_name(index)

    def band_name(self, index: int) -> str:
        low = self.edge_text(index)
        if index == len(self.edges) - 1:
            return f"{low}+" if self.whole else f">={low}"
        high = self.edge_text(index + 1)
        if not self.whole:
            return f"[{low}, {high})"
        last = int(self.edges[index + 1]) - 1
        return low if last == int(self.edges[index]) else f"{low}-{last}"

    @property
    def whole(self) -> bool:
        return all(edge.is_integer() for edge in self.edges)

    def edge_text(self, index: int) -> str:
        edge = self.edges[index]
        return str(int(edge)) if edge.is_integer() else repr(edge)

    def ordered(self, groups: Iterable[str]) -> list[str]:
        """Bands in their numeric order, values in natural order (2 before 10), the blank group last."""
        present = set(groups)
        if self.edges:
            names = [f"<{self.edge_text(0)}", *(self.band_name(i) for i in range(len(self.edges)))]
            ordered = [name for name in names if name in present]
        else:
            ordered = sorted(present - {BLANK}, key=natural_key)
        return ordered + ([BLANK] if BLANK in present else [])


def natural_key(text: str) -> list[tuple[int, float | str]]:
    """'3-9' before '10-19': runs of digits compare as numbers, the rest as case-folded text."""
    return [(0, float(part)) if part.isdecimal() else (1, part.casefold())  # not '²': a digit, no number
            for part in re.split(r"(\d+)", text) if part]
