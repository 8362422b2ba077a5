"""95% confidence intervals for the audit's proportions, in closed form (no resampling, the same every run).

A proportion (accuracy, women's or men's accuracy) gets the Wilson score interval: unlike the normal
approximation it stays inside [0, 1] and is not empty for a perfect or an all-wrong group. Balanced accuracy
is the mean of the per-gender accuracies, two independent proportions; its interval combines their Wilson
limits by MOVER (Zou and Donner 2008, "Construction of confidence limits about effect measures"), which keeps
those properties.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Z95 = 1.959963984540054  # the standard normal's 97.5th percentile
Interval = tuple[float, float]


def wilson(successes: int, n: int, z: float = Z95) -> Interval | None:
    """The Wilson score interval of successes/n; None for n = 0 (nothing to say)."""
    if n == 0:
        return None
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def mean_interval(estimates: Sequence[float], intervals: Sequence[Interval]) -> Interval:
    """The MOVER interval of the mean of independent proportions, from each one's estimate and interval."""
    weight = 1 / len(estimates)
    mean = sum(estimates) * weight
    below = math.sqrt(sum((p - low) ** 2 for p, (low, _) in zip(estimates, intervals, strict=True)))
    above = math.sqrt(sum((high - p) ** 2 for p, (_, high) in zip(estimates, intervals, strict=True)))
    return max(0.0, mean - weight * below), min(1.0, mean + weight * above)
