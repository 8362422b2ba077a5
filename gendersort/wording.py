"""One plain sentence for a probability of 'male', shared by the viewer, the report and `gendersort predict`;
and counts as people write them ("1 file", "2 files"), for the commands' summaries.

People read "It is very likely a woman, 97.2%" faster and more correctly than "p_male=0.028", and the
wording bands keep a 55% guess from sounding as sure as a 99% one.
"""

from __future__ import annotations

# (lowest confidence, words), most confident first; confidence = max(p_male, 1 - p_male) >= 0.5.
CONFIDENCE_WORDS = ((0.9, "very likely"), (0.7, "likely"), (0.0, "possibly"))


def confidence_of(p_male: float) -> float:
    """How sure the model is of whichever label it picks: max(p, 1 - p)."""
    return max(p_male, 1.0 - p_male)


def likelihood_phrase(p_male: float) -> str:
    """'very likely a woman': the label the model picks and how sure it is, in words."""
    confidence = confidence_of(p_male)
    words = next(words for lowest, words in CONFIDENCE_WORDS if confidence >= lowest)
    return f"{words} {'a man' if p_male >= 0.5 else 'a woman'}"


def counted(number: int, noun: str) -> str:
    """"1 file", "0 files", "2 files": the noun in the singular only for one."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def describe(p_male: float) -> str:
    """'It is very likely a woman, 97.2%': the label the model picks, and how sure, in words and percent."""
    return f"It is {likelihood_phrase(p_male)}, {confidence_of(p_male) * 100:.1f}%"
