"""The HTML report: results read back, thumbnails, the page's data, and the page in headless Chromium."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks.chromium import CHROMIUM, VIEWPORT, launch
from gendersort.photos.imaging import load_upright
from gendersort.printable import printable
from gendersort.review.evaluation.metrics import classification_metrics
from gendersort.review.report.build import EvaluationSummary, write_report
from gendersort.review.report.thumbs import make_thumbnail
from gendersort.review.results_file import read_results
from tests.conftest import FIXTURES, save_two_face_photo

SCREENSHOTS = Path(__file__).resolve().parent.parent / "build" / "screenshots"
COLUMNS = ["path", "status", "label", "p_male", "confidence", "faces", "face_index", "box_x0", "box_y0",
           "box_x1", "box_y1", "error", "model_version", "size", "mtime"]
ODD_NAME = 'a<b>&"quoted" \'é\' 漢 <script>x.png'
NOT_UTF8_NAME = os.fsdecode(b"caf\xe9 latin-1.png")
ERROR_MESSAGE = "</script><b>boom</b> & co"
TRUTH = {"astronaut.png": "female", "camera.png": "male", ODD_NAME: "female"}


def result_records(path: Path, analyzer, every_face: bool = False) -> list[dict]:
    """The rows `gendersort classify` writes for a photo: its largest face, or each with `--faces all`."""
    stat = path.stat()
    record = dict.fromkeys(COLUMNS, "") | {"path": str(path), "size": stat.st_size, "mtime": stat.st_mtime,
                                           "model_version": analyzer.classifier.version}
    try:
        faces = analyzer.analyze(load_upright(path))
    except OSError as error:
        return [record | {"status": "error", "label": "unknown", "error": ERROR_MESSAGE + f" ({error})"}]
    if not faces:
        return [record | {"status": "no_face", "label": "unknown", "faces": 0}]
    return [record | {"status": "ok", "label": "male" if result.p_male >= 0.5 else "female",
                      "p_male": result.p_male, "confidence": max(result.p_male, 1 - result.p_male),
                      "faces": len(faces), "face_index": index if every_face else "",
                      **dict(zip(("box_x0", "box_y0", "box_x1", "box_y1"), result.face.box, strict=True))}
            for index, result in enumerate(faces if every_face else faces[:1])]


@pytest.fixture(scope="module")
def analyzer():
    from gendersort.pipeline.analysis import FaceAnalyzer

    return FaceAnalyzer(device="cpu")


@pytest.fixture(scope="module")
def records(analyzer, tmp_path_factory) -> list[dict]:
    """Rows for the fixtures, copies with a hostile and a non-UTF-8 file name, and a file that is no photo."""
    folder = tmp_path_factory.mktemp("photos")
    paths = [FIXTURES / name for name in ("astronaut.png", "camera.png", "chelsea.png", "coffee.png")]
    shutil.copy(FIXTURES / "astronaut.png", folder / ODD_NAME)
    shutil.copy(FIXTURES / "coffee.png", folder / NOT_UTF8_NAME)
    (folder / "broken.jpg").write_bytes(b"not a jpeg at all")
    return [row for path in [*paths, folder / ODD_NAME, folder / NOT_UTF8_NAME, folder / "broken.jpg"]
            for row in result_records(path, analyzer)]


@pytest.fixture(scope="module")
def results_csv(records, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("results") / "results.csv"
    with path.open("w", newline="", encoding="utf-8", errors="surrogateescape") as handle:
        writer = csv.DictWriter(handle, COLUMNS)
        writer.writeheader()
        writer.writerows(records)
    return path


def test_read_results_reads_csv_and_jsonl_alike(records, results_csv, tmp_path: Path) -> None:
    jsonl = tmp_path / "results.jsonl"
    typed = [{key: None if value == "" else value for key, value in record.items()} for record in records]
    lines = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in typed)
    jsonl.write_text(lines, encoding="utf-8", errors="surrogateescape")  # as classify writes it

    from_csv, from_jsonl = read_results(results_csv), read_results(jsonl)

    assert from_csv == from_jsonl
    assert [row.path for row in from_csv] == [record["path"] for record in records]
    astronaut = from_csv[0]
    assert astronaut.p_male == pytest.approx(records[0]["p_male"])
    assert astronaut.box == pytest.approx((records[0]["box_x0"], records[0]["box_y0"],
                                           records[0]["box_x1"], records[0]["box_y1"]))
    assert astronaut.face_index is None
    assert [row.category for row in from_csv[2:4]] == ["unknown", "unknown"]
    assert from_csv[-1].category == "error"
    assert from_csv[-1].error.startswith(ERROR_MESSAGE)


def test_read_results_infers_missing_optional_columns(tmp_path: Path) -> None:
    trimmed = tmp_path / "trimmed.csv"
    trimmed.write_text("path,p_male,error\nman.jpg,0.8,\nnobody.jpg,,\nbad.jpg,,truncated file\n")

    man, nobody, bad = read_results(trimmed)

    assert (man.status, man.label, man.confidence, man.box) == ("ok", "male", pytest.approx(0.8), None)
    assert (nobody.status, nobody.label, nobody.confidence) == ("no_face", "unknown", None)
    assert (bad.status, bad.category, bad.error) == ("error", "error", "truncated file")


def test_thumbnail_is_upright_and_boxes_use_the_upright_frame(tmp_path: Path) -> None:
    upright = Image.open(FIXTURES / "astronaut.png").convert("RGB").crop((0, 0, 512, 384))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned a quarter left; viewers turn it right to show it upright
    rotated = tmp_path / "rotated.jpg"
    upright.transpose(Image.Transpose.ROTATE_90).save(rotated, quality=95, exif=exif)

    thumbnail = make_thumbnail(rotated, size=160)

    assert thumbnail.upright_size == (512, 384)
    shown = Image.open(io.BytesIO(base64.b64decode(thumbnail.data_uri.split(",")[1])))
    assert shown.size == (160, 120)
    difference = np.asarray(shown.convert("RGB"), float) - np.asarray(upright.resize((160, 120)), float)
    assert np.abs(difference).mean() < 10
    assert thumbnail.box_percent((128, 96, 256, 480)) == (25.0, 25.0, 25.0, 75.0)


def page_data(html: str) -> dict:
    blob = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S)
    assert blob, "the report has no data blob"
    return json.loads(blob.group(1))


def test_report_is_self_contained_and_escapes_what_it_embeds(records, results_csv, tmp_path: Path) -> None:
    out = tmp_path / "report.html"

    summary = write_report(results_csv, out)

    page = out.read_text(encoding="utf-8")
    assert summary.rows == summary.images == len(records)
    assert summary.faces == sum(record["faces"] or 0 for record in records)
    assert summary.by_category["error"] == 1
    assert summary.unreadable_images == 1
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", page, re.I), "the page refers to the network"
    assert "@import" not in page and "<link" not in page
    assert ERROR_MESSAGE not in page and "<b>boom" not in page
    data = page_data(page)
    # shown as escapes where a name is not UTF-8 (#23): 'caf\\xe9 latin-1.png'
    names = [printable(Path(record["path"]).name) for record in records]
    assert [row["name"] for row in data["rows"]] == names
    assert data["rows"][-1]["problems"][0].startswith(ERROR_MESSAGE)
    assert all(uri.startswith("data:image/jpeg;base64,") for uri in data["thumbs"])
    assert len(data["thumbs"]) == len(records) - 1  # every photo but the broken file


def test_every_face_gets_a_card_and_they_share_one_thumbnail(analyzer, tmp_path: Path) -> None:
    save_two_face_photo(tmp_path / "pair.png")
    rows = result_records(tmp_path / "pair.png", analyzer, every_face=True)
    out = tmp_path / "faces.html"

    summary = write_report(rows, out)

    data = page_data(out.read_text(encoding="utf-8"))
    assert (summary.images, summary.faces, summary.rows) == (1, 2, 2)
    assert [row["faces_text"] for row in data["rows"]] == ["face 1 of 2", "face 2 of 2"]
    assert [row["thumb"] for row in data["rows"]] == [0, 0] and len(data["thumbs"]) == 1
    lefts = sorted(row["box"][0] for row in data["rows"])
    assert lefts[0] < 50 < lefts[1]  # one face in each half


def test_cards_say_what_is_known_about_each_row(tmp_path: Path) -> None:
    photo = str(FIXTURES / "astronaut.png")
    rows = [{"path": photo, "label": "female", "p_male": 0.028},
            {"path": photo, "label": "unknown", "p_male": 0.55},  # fell short of --min-confidence
            {"path": photo, "status": "no_face", "faces": 0},
            {"path": photo, "status": "error", "error": "truncated"}]
    out = tmp_path / "sentences.html"

    write_report(rows, out)

    data = page_data(out.read_text(encoding="utf-8"))
    assert [row["sentence"] for row in data["rows"]] == [
        "It is very likely a woman, 97.2%",
        "Below the confidence threshold. It is possibly a man, 55.0%",
        "No face found",
        "Could not be classified",
    ]
    assert [row["category"] for row in data["rows"]] == ["female", "unknown", "unknown", "error"]


# ---- in a real browser ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator:
    if not CHROMIUM.exists():
        pytest.skip(f"needs Chromium at {CHROMIUM} (Debian package chromium)")
    sync_api = pytest.importorskip(
        "playwright.sync_api",
        reason="needs the Python package playwright (pip install playwright; no `playwright install`)")
    with sync_api.sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


@pytest.fixture
def page(browser) -> Iterator:
    """A tab that records script errors and every non-local request, and checks there were none."""
    tab = browser.new_page(viewport=VIEWPORT)
    errors, remote = [], []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.on("request", lambda sent: sent.url.startswith(("file:", "data:")) or remote.append(sent.url))
    yield tab
    tab.close()
    assert errors == []
    assert remote == []


def open_report(page, path: Path) -> None:
    page.goto(path.as_uri())
    page.wait_for_selector("body[data-ready=true]")


def wait_for_cards(page, count: int, grid: str = "#cards") -> None:
    # A function, not a string: the report's Content-Security-Policy forbids string evaluation.
    page.wait_for_function("([grid, count]) => document.querySelectorAll(grid + ' .card').length === count",
                           arg=[grid, count], timeout=10_000)


def test_page_shows_a_card_per_row_and_filters_hide_the_others(page, records, results_csv,
                                                              tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    write_report(results_csv, out)
    open_report(page, out)
    wait_for_cards(page, len(records))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    shutil.copy(tmp_path / "report.png", SCREENSHOTS / "report.png")

    # Least confident first; rows without a confidence after them.
    least_sure = min((record for record in records if record["confidence"] != ""),
                     key=lambda record: record["confidence"])
    assert page.locator("#cards .card .name").first.text_content() == Path(least_sure["path"]).name
    assert page.locator("#cards .card .name").last.text_content() == "broken.jpg"
    # The hostile name is shown as text, exactly, and made no element.
    odd = page.locator("#cards .name", has_text="quoted")
    assert odd.text_content() == ODD_NAME
    assert page.locator("#cards .name b, #cards .card script").count() == 0
    # The face box sits where the detector put the face, relative to the thumbnail.
    astronaut = records[0]
    box = page.locator("#cards .card", has=page.locator(".name", has_text="astronaut.png")).locator(".box")
    image = box.locator("xpath=../img")
    box_rect, image_rect = box.bounding_box(), image.bounding_box()
    scale = image_rect["width"] / 512
    assert box_rect["x"] - image_rect["x"] == pytest.approx(astronaut["box_x0"] * scale, abs=2)
    assert box_rect["y"] - image_rect["y"] == pytest.approx(astronaut["box_y0"] * scale, abs=2)

    for category in ("male", "female", "error"):
        page.uncheck(f"input[name=category][value={category}]")
    unknown = sum(record["label"] == "unknown" and record["status"] != "error" for record in records)
    wait_for_cards(page, unknown)
    assert page.locator("#cards .card.unknown").count() == unknown
    assert page.text_content("#shown-count") == str(unknown)

    page.check("input[name=category][value=male]")
    page.check("input[name=category][value=female]")
    page.fill("#max-confidence", "60")
    doubtful = sum(record["confidence"] != "" and record["confidence"] <= 0.6 for record in records)
    wait_for_cards(page, unknown + doubtful)
    assert page.text_content("#max-confidence-value") == "60.0%"


def test_evaluation_shows_confusion_matrix_figures_and_mistakes(page, records, tmp_path: Path) -> None:
    labelled = [record for record in records if Path(record["path"]).name in TRUTH and record["p_male"] != ""]
    truth = np.array([TRUTH[Path(record["path"]).name] == "male" for record in labelled])
    guess = np.array([record["label"] == "male" for record in labelled])
    metrics = classification_metrics(truth, guess, np.array([record["p_male"] for record in labelled]))
    wrong = [record | {"truth": TRUTH[Path(record["path"]).name]}
             for record, correct in zip(labelled, truth == guess, strict=True) if not correct]
    out = tmp_path / "evaluation.html"

    write_report(records, out, evaluation=EvaluationSummary(metrics=metrics, misclassified=wrong))
    open_report(page, out)

    cells = page.locator("#confusion-matrix td").all_text_contents()
    assert cells == [str(count) for pair in metrics["confusion_matrix"] for count in pair]
    assert page.locator("#metrics tr", has_text="Accuracy").first.locator("td").text_content() == (
        f"{metrics['accuracy'] * 100:.1f}%")
    wait_for_cards(page, len(wrong), grid="#misclassified")
    truths = page.locator("#misclassified .truth").all_text_contents()
    assert truths == [f"truth: {record['truth']}" for record in wrong]


def test_thousands_of_rows_render_a_page_at_a_time(page, records, tmp_path: Path) -> None:
    def spread(record: dict, p_male: float) -> dict:
        return record | {"p_male": p_male, "confidence": max(p_male, 1 - p_male)}

    many = [spread(record, (i % 997) / 997) if record["p_male"] != "" else record
            for i, record in enumerate(records * 700)]
    out = tmp_path / "large.html"

    write_report(many, out)
    open_report(page, out)

    page_size = page.evaluate("PAGE_SIZE")
    wait_for_cards(page, page_size)
    assert page.text_content("#shown-count") == str(len(many))
    page.locator("#cards .card").last.scroll_into_view_if_needed()
    wait_for_cards(page, 2 * page_size)


def test_groups_plot_and_filter_show_one_groups_photos(page, records, tmp_path: Path) -> None:
    """evaluate --labels --by: a plot per column, whose rows (and the header's list) choose a group."""
    from gendersort.review.evaluation.scoring import GroupScore
    from gendersort.review.report.groups import GroupView

    kind = {record["path"]: "person" if Path(record["path"]).name in TRUTH else "other" for record in records}
    people = sum(group == "person" for group in kind.values())
    scores = [GroupScore("person", 2, 2, 1, 1, 0, 0), GroupScore("other", 2, 0, 2, 0, 3, 1)]
    view = GroupView(columns={"kind": scores}, worst={"kind": None},
                     of_path={path: {"kind": group} for path, group in kind.items()})
    out = tmp_path / "groups.html"

    write_report(records, out, groups=view)
    open_report(page, out)

    wait_for_cards(page, len(records))
    assert page.locator("#plot-kind .group-row").count() == 2
    page.select_option("select.group-filter[data-column=kind]", "person")
    wait_for_cards(page, people)
    page.locator('#plot-kind .group-row[data-group="other"]').click()
    wait_for_cards(page, len(records) - people)
    assert page.locator("select.group-filter[data-column=kind]").input_value() == "other"
    page.select_option("select.group-filter[data-column=kind]", "")
    wait_for_cards(page, len(records))


def polyline(page, kind: str) -> list[tuple[float, float]]:
    points = page.locator(f"#trade-off-plot polyline.{kind}").get_attribute("points")
    return [tuple(float(value) for value in pair.split(",")) for pair in points.split()]


def test_header_and_plot_say_how_right_the_rows_are_likely_to_be(page, records, tmp_path: Path) -> None:
    """#25: each label's expected accuracy in the header; the threshold's trade-off drawn; an evaluation
    adds the kept rows' true accuracy."""
    from gendersort.pipeline.expected_accuracy import ExpectedAccuracy, trade_off
    from gendersort.review.report import trade_off as plot

    answered = [record for record in records if record["p_male"] != ""]
    camera = next(record for record in answered if Path(record["path"]).name == "camera.png")
    metrics = classification_metrics(np.array([True, False]), np.array([True, False]), np.array([0.9, 0.1]))
    out = tmp_path / "evaluation.html"
    write_report(records, out, evaluation=EvaluationSummary(metrics, [camera | {"truth": "female"}]))
    open_report(page, out)

    expected = ExpectedAccuracy.of((record["label"], record["p_male"] or None) for record in records)
    assert page.text_content("#expected-accuracy") == f"Rows by label: {'; '.join(expected.sentences())}"
    assert page.locator("#trade-off-plot").bounding_box()["width"] == plot.WIDTH
    points = trade_off(record["confidence"] for record in answered)
    bottom = plot.lowest_shown(points, [2 / 3])
    last_x, last_y = polyline(page, "expected")[-1]
    assert last_x == pytest.approx(plot.WIDTH - plot.RIGHT, abs=0.1), "the whole run kept at the right end"
    height = plot.HEIGHT - plot.TOP - plot.BOTTOM
    assert last_y == pytest.approx(plot.TOP + (1 - points[-1].expected) / (1 - bottom) * height, abs=0.1)
    true_y = polyline(page, "true")[-1][1]
    assert true_y == pytest.approx(plot.TOP + (1 - 2 / 3) / (1 - bottom) * height, abs=0.1), "one of 3 wrong"
    titles = page.locator("#trade-off-plot .threshold title").all_text_contents()
    kept = [point for point in points if point.threshold >= 0.9][-1]
    assert (f"threshold 0.9: keeps {kept.kept} of {len(answered)} ({kept.kept / len(answered):.1%}), "
            f"expected {kept.expected:.1%} right, true ") in " ".join(titles)
