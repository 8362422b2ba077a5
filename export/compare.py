"""Markdown tables of models side by side, from export.evaluate's JSON files (for the model card).

    python -m export.compare v2=build/eval/v2 v3=build/eval/v3-uncal [--sets celeba fairface ...]

Per set: balanced accuracy, women's and men's accuracy, images without a face; then, for the sets whose
labels have them, adults per race group and every age band, for the last model named, as
gendersort.review.evaluation.scoring scored them (`gendersort evaluate --labels` scores groups the same
way): each figure with its 95% interval, groups too small to rank marked *.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from export.common import LABELLED_SETS
from gendersort.review.evaluation.scoring import SMALL_GROUP


def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2%}"


def with_interval(value: float | None, interval: list[float] | None) -> str:
    if value is None or interval is None:
        return "n/a"
    return f"{value:.2%} ({interval[0] * 100:.1f}-{interval[1] * 100:.1f}%)"


def per_set_table(models: dict[str, Path], sets: list[str]) -> list[str]:
    header = "| set (val part, every image counted) | " + " | ".join(
        f"{name} balanced | {name} women | {name} men" for name in models) + " |"
    lines = [header, "|---" * (1 + 3 * len(models)) + "|"]
    for set_name in sets:
        cells = []
        for folder in models.values():
            overall = json.loads((folder / f"{set_name}.json").read_text())["all"]
            cells += [percent(overall[key]) for key in ("balanced_accuracy", "women", "men")]
        lines.append(f"| {set_name} | " + " | ".join(cells) + " |")
    return lines


def group_tables(folder: Path, sets: list[str]) -> list[str]:
    lines: list[str] = []
    for set_name in sets:
        report = json.loads((folder / f"{set_name}.json").read_text())
        for key, title in (("adults_by_race", "adults by race group"), ("by_race", "by race group"),
                           ("by_age_band", "by age band")):
            if key not in report:
                continue
            lines += ["", f"{set_name}, {title} (95% intervals; * fewer than {SMALL_GROUP} images):", "",
                      "| group | images | balanced | women | men | no face |", "|---|---|---|---|---|---|"]
            for group in report[key]:
                name = group["group"] + (" *" if group["too_small"] else "")
                cells = [with_interval(group[figure], group[f"{figure}_ci95"])
                         for figure in ("balanced_accuracy", "women", "men")]
                lines.append(f"| {name} | {group['n']} | {' | '.join(cells)} | {group['no_face']} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="NAME=FOLDER of export.evaluate's output")
    parser.add_argument("--sets", nargs="+", default=list(LABELLED_SETS))
    args = parser.parse_args()
    models = {name: Path(folder) for name, folder in (model.split("=", 1) for model in args.models)}
    print("\n".join(per_set_table(models, args.sets)))
    print("\n".join(group_tables(list(models.values())[-1], args.sets)))


if __name__ == "__main__":
    main()
