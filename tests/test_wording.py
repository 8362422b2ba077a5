"""The sentence people read for a probability of 'male' (viewer, report, predict)."""

from __future__ import annotations

import pytest

from gendersort.wording import describe, likelihood_phrase


@pytest.mark.parametrize(("p_male", "sentence"), [
    (0.028, "It is very likely a woman, 97.2%"),
    (0.9, "It is very likely a man, 90.0%"),
    (0.89, "It is likely a man, 89.0%"),
    (0.3, "It is likely a woman, 70.0%"),
    (0.31, "It is possibly a woman, 69.0%"),
    (0.5, "It is possibly a man, 50.0%"),
])
def test_describe_says_label_and_how_sure(p_male: float, sentence: str) -> None:
    assert describe(p_male) == sentence


def test_the_phrase_is_shared_by_every_sentence() -> None:
    assert likelihood_phrase(0.987) == "very likely a man"
    assert likelihood_phrase(0.2) == "likely a woman"
