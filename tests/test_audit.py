"""Scoring per group (review/evaluation/: scoring.py, intervals.py, grouping.py, labels_file.py,
matching.py) against hand-computed cases; no model runs here."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from gendersort.errors import BadOptionError
from gendersort.review.evaluation.grouping import BLANK, GroupBy
from gendersort.review.evaluation.intervals import mean_interval, wilson
from gendersort.review.evaluation.labels_file import parse_label_map, read_labels
from gendersort.review.evaluation.matching import match
from gendersort.review.evaluation.scoring import (
    SMALL_GROUP,
    GroupScore,
    Scored,
    by_group,
    confusion,
    no_worst,
    overall,
    worst,
)
from gendersort.review.results_file import ResultRow

NAN = math.nan


@pytest.mark.parametrize(("successes", "n", "low", "high"), [
    # Newcombe (1998), "Two-sided confidence intervals for the single proportion", Table I, method 3.
    (81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718),
    (10, 10, 0.7225, 1.0), (0, 10, 0.0, 0.2775), (5, 10, 0.2366, 0.7634),
])
def test_wilson_intervals_match_the_published_ones(successes, n, low, high):
    assert wilson(successes, n) == pytest.approx((low, high), abs=1e-4)


def test_an_empty_group_has_no_interval():
    assert wilson(0, 0) is None


def test_the_balanced_interval_combines_the_wilson_limits_by_mover():
    # By hand: 9/10 has Wilson (0.5958, 0.9821), 5/10 (0.2366, 0.7634); their mean 0.7 goes down by
    # sqrt(0.3042^2 + 0.2634^2) / 2 = 0.2012 and up by sqrt(0.0821^2 + 0.2634^2) / 2 = 0.1380.
    combined = mean_interval([0.9, 0.5], [wilson(9, 10), wilson(5, 10)])
    assert combined == pytest.approx((0.4988, 0.8380), abs=1e-4)
    assert mean_interval([0.9], [wilson(9, 10)]) == wilson(9, 10), "one proportion: its own interval"


def scored(truth: str, p_male: list[float], unreadable: list[bool] | None = None) -> Scored:
    """'fmm': a woman and two men, with the model's p_male for each (NaN: no answer)."""
    return Scored.of([who == "m" for who in truth], p_male, unreadable)


def test_a_perfect_group():
    score = GroupScore.of("g", scored("ffmm", [0.1, 0.2, 0.9, 0.6]))
    assert (score.n, score.accuracy, score.balanced_accuracy, score.women, score.men) == (4, 1, 1, 1, 1)
    record = score.record()
    assert record["ci95"] == pytest.approx([0.5101, 1.0], abs=1e-4)  # Wilson 4/4
    assert record["women_ci95"] == record["men_ci95"] == pytest.approx([0.3424, 1.0], abs=1e-4)  # 2/2
    # MOVER: 1 - sqrt(2 * (1 - 0.3424)^2) / 2
    assert record["balanced_accuracy_ci95"] == pytest.approx([0.5350, 1.0], abs=1e-4)


def test_an_all_wrong_group_where_no_face_and_unreadable_count_wrong():
    score = GroupScore.of("g", scored("ffmm", [0.9, NAN, 0.1, NAN], [False, False, False, True]))
    assert (score.correct, score.accuracy, score.balanced_accuracy) == (0, 0.0, 0.0)
    assert (score.no_face, score.unreadable) == (1, 1)
    assert score.record()["ci95"] == pytest.approx([0.0, 0.4899], abs=1e-4)  # Wilson 0/4


def test_a_group_of_one_gender_is_scored_on_that_gender():
    score = GroupScore.of("men only", scored("mmmm", [0.9, 0.8, 0.3, 0.7]))
    assert (score.women, score.men, score.accuracy, score.balanced_accuracy) == (None, 0.75, 0.75, 0.75)
    record = score.record()
    assert record["women_ci95"] is None and record["women_n"] == 0
    assert record["balanced_accuracy_ci95"] == record["men_ci95"] == pytest.approx(list(wilson(3, 4)))


def test_an_empty_group():
    record = GroupScore.of("nobody", scored("", [])).record()
    assert record["n"] == 0 and record["too_small"]
    undefined = ("accuracy", "ci95", "balanced_accuracy", "balanced_accuracy_ci95", "women", "men")
    assert all(record[key] is None for key in undefined)


def test_balanced_accuracy_weighs_the_genders_alike():
    # 1 woman of 4 right, 6 men of 6 right: accuracy 7/10, balanced (0.25 + 1) / 2.
    score = GroupScore.of("g", scored("ffff" + "m" * 6, [0.9, 0.9, 0.9, 0.1] + [0.9] * 6))
    assert (score.accuracy, score.balanced_accuracy) == (0.7, 0.625)


def test_groups_their_worst_and_the_small_ones():
    big = SMALL_GROUP
    truth = "fm" * big + "fm" * big + "fm"  # groups a, b of 2 * SMALL_GROUP photos, c of 2
    p_male = [0.1, 0.9] * big + [0.1, 0.1] * big + [0.9, 0.1]  # a all right, b men all wrong, c all wrong
    groups = ["a"] * 2 * big + ["b"] * 2 * big + ["c"] * 2
    scores = by_group(scored(truth, p_male), groups, ["a", "b", "c", "d"])
    assert [(s.group, s.n, s.balanced_accuracy, s.too_small) for s in scores] == [
        ("a", 2 * big, 1.0, False), ("b", 2 * big, 0.5, False), ("c", 2, 0.0, True), ("d", 0, None, True)]
    assert worst(scores).group == "b", "c is worse, but too small to rank"
    assert worst(scores[2:]) is None


def test_a_group_is_named_worst_only_when_it_scores_below_another():
    """#23, finding 12: the only group large enough to rank, perfect or not, is not 'worst', nor is any of
    groups that all score alike; each says why."""
    big = SMALL_GROUP
    truth = "fm" * big * 3 + "fm"
    p_male = [0.1, 0.9] * big + [0.1, 0.9] * big + [0.1, 0.1] * big + [0.9, 0.1]  # a, b right; c men wrong
    groups = ["a"] * 2 * big + ["b"] * 2 * big + ["c"] * 2 * big + ["d"] * 2
    a, b, c, d = by_group(scored(truth, p_male), groups, ["a", "b", "c", "d"])
    assert worst([a, d]) is None and no_worst([a, d]).startswith("one group of 30 photos or more")
    assert worst([c, d]) is None, "ranked alone, it is below nothing"
    assert worst([a, b, d]) is None and "score alike" in no_worst([a, b, d])
    assert worst([a, b, c, d]) is c


def test_overall_counts_a_photo_without_an_answer_as_the_other_gender():
    every = scored("ffm", [0.1, NAN, NAN], [False, False, True])
    metrics = overall(every)
    assert metrics["confusion_matrix"] == [[1, 1], [1, 0]]
    assert metrics["confusion_with_no_answer"] == confusion(every) == [[1, 0, 1, 0], [0, 0, 0, 1]]
    figures = (metrics["accuracy"], metrics["balanced_accuracy"], metrics["women"], metrics["men"])
    assert figures == (1 / 3, 0.25, 0.5, 0.0)
    assert overall(scored("mm", [0.9, 0.2]))["roc_auc"] is None, "no AUC for one gender (JSON has no NaN)"


@pytest.mark.parametrize(("spec", "values", "groups"), [
    ("age:0,3,10,20", ["0", "2", "2.5", "3", "19", "20", "85", "-1", ""],
     ["0-2", "0-2", "0-2", "3-9", "10-19", "20+", "20+", "<0", BLANK]),
    ("age:0,1,2", ["0", "1", "7"], ["0", "1", "2+"]),
    ("score:0.5,1.5", ["0.7", "1.5", "0.1"], ["[0.5, 1.5)", ">=1.5", "<0.5"]),
    ("race", ["White", " Black ", ""], ["White", "Black", BLANK]),
])
def test_groups_and_bands(spec, values, groups):
    assert [GroupBy.parse(spec).group_of(value) for value in values] == groups


def test_group_order_is_natural_and_bands_numeric():
    natural = GroupBy("age").ordered(["10-19", "3-9", BLANK, "0-2", "70+"])
    assert natural == ["0-2", "3-9", "10-19", "70+", BLANK]
    banded = GroupBy.parse("age:0,18,65")
    assert banded.ordered(["65+", "<0", "18-64", "0-17"]) == ["<0", "0-17", "18-64", "65+"]


@pytest.mark.parametrize(("spec", "message"), [
    ("age:0,x", "must be numbers"), ("age:10,3", "increasing"), ("age:3,3", "increasing"),
    (":1,2", "no column"),
])
def test_bad_bands_are_refused(spec, message):
    with pytest.raises(BadOptionError, match=message):
        GroupBy.parse(spec)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_labels_file_paths_spellings_and_duplicates(tmp_path):
    (tmp_path / "sub").mkdir()
    labels = write(tmp_path / "sub" / "labels.csv",
                   "\ufeffpath,label,race\n"  # a byte-order mark, as spreadsheets write
                   "a.jpg,Male,White\n/abs/b.jpg, FEMALE ,Black\nx/../c.jpg,1,\na.jpg,female,White\n")
    read = read_labels(labels, [GroupBy("race")], parse_label_map(["1=female,0=male"]))
    assert [(photo.path, photo.truth, photo.groups) for photo in read.photos] == [
        (str(tmp_path / "sub" / "a.jpg"), "male", ("White",)), ("/abs/b.jpg", "female", ("Black",)),
        (str(tmp_path / "sub" / "c.jpg"), "female", (BLANK,))]
    assert read.duplicates == {str(tmp_path / "sub" / "a.jpg"): (2, True)}


@pytest.mark.parametrize(("text", "by", "message"), [
    ("file,label\na.jpg,male\n", [], "has no 'path' column (its columns: file, label)"),
    ("path,gender\na.jpg,male\n", [], "has no 'label' column"),
    ("", [], "has no 'path' column (its columns: none)"),
    ("path,label\na.jpg,male\n", [GroupBy("race")], "--by race: "),
    ("path,label,age\na.jpg,male,\n", [GroupBy("age"), GroupBy("age", (0.0, 1.0))],
     "--by age is given twice"),
    ("path,label\na.jpg,male\nb.jpg,0\nc.jpg,0\nd.jpg,Man\n", [],
     "3 labels are neither male nor female: '0' (2x, first on line 3), 'Man' (1x, first on line 5); "
     "say what they mean with --label-map 0=male"),
    ("path,label,age\na.jpg,male,twenty\n", [GroupBy("age", (0.0, 18.0))],
     "line 2: age 'twenty' is not a number"),
    ("path,label\n,male\n", [], "line 2: the path is empty"),
])
def test_bad_labels_files_say_what_is_wrong(tmp_path, text, by, message):
    with pytest.raises(BadOptionError) as raised:
        read_labels(write(tmp_path / "labels.csv", text), by, {})
    assert message in str(raised.value)


@pytest.mark.parametrize("item", ["0", "0=man", "=", "0=unknown"])
def test_a_label_map_must_say_male_or_female(item):
    with pytest.raises(BadOptionError, match="VALUE=male"):
        parse_label_map([item])


def test_rows_are_matched_by_path_and_nothing_is_dropped_silently(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    labels = write(tmp_path / "labels.csv", "path,label\nphotos/a.jpg,male\nphotos/b.jpg,female\n"
                                           "photos/c.jpg,female\n")
    photos = read_labels(labels, [], {}).photos
    rows = [ResultRow("photos/a.jpg", face_index=0, p_male=0.9),  # relative to the current folder
            ResultRow(str(tmp_path / "photos" / "a.jpg"), face_index=1, p_male=0.2),  # a smaller face
            ResultRow(str(tmp_path / "photos" / "b.jpg"), p_male=0.1),
            ResultRow(str(tmp_path / "photos" / "b.jpg"), p_male=0.8),  # a second row: a duplicate
            ResultRow(str(tmp_path / "photos" / "z.jpg"), p_male=0.1)]  # not labelled
    matched = match(photos, rows)
    assert [(photo.path, row.p_male) for photo, row in matched.pairs] == [
        (str(tmp_path / "photos" / "a.jpg"), 0.9), (str(tmp_path / "photos" / "b.jpg"), 0.1)]
    assert matched.missing == [str(tmp_path / "photos" / "c.jpg")]
    assert matched.duplicates == [str(tmp_path / "photos" / "b.jpg")]
    assert matched.unlabelled == [str(tmp_path / "photos" / "z.jpg")]


def test_scored_photos_in_numpy_agree_with_the_counts():
    every = scored("fmfm", [0.2, 0.7, NAN, 0.4])
    assert every.correct.tolist() == [True, True, False, False]
    assert np.array_equal(every.found, [True, True, False, True])


def test_the_model_cards_tables_are_scored_by_the_same_code(tmp_path):
    """export.evaluate's groups are audit's records (adults per race, every age band) and export.compare
    prints them with their intervals; no second way to score a group."""
    from export.compare import group_tables
    from export.evaluate import age_band, grouped

    people = [("male", "25", "White", 0.9), ("female", "31", "White", 0.2), ("female", "2", "White", 0.7),
              ("male", "40", "Black", NAN), ("female", "70", "Black", 0.1)]
    items = [{"path": f"{index}.jpg", "is_male": truth == "male", "race": race,
              **dict(zip(("age_band", "adult"), age_band(age), strict=True))}
             for index, (truth, age, race, _) in enumerate(people)]
    p_male = np.array([p for *_, p in people])
    report = grouped(items, p_male)

    adults = scored("mfmf", [0.9, 0.2, NAN, 0.1])  # the 2-year-old left out
    assert report["adults_by_race"] == [score.record() for score in by_group(
        adults, ["White", "White", "Black", "Black"], ["Black", "White"])]
    assert [(group["group"], group["n"]) for group in report["by_age_band"]] == [
        ("0-2", 1), ("18-29", 1), ("30-44", 2), ("60-74", 1)]
    (tmp_path / "set.json").write_text(json.dumps(report), encoding="utf-8")
    table = group_tables(tmp_path, ["set"])
    assert "| Black * | 2 | 50.00% (" in "\n".join(table), "balanced 1/2 women right, 0/1 men, flagged small"
