"""What `gendersort evaluate` prints (a labels file or a labelled tree alike): what was scored and what was
not, the overall row, precision, recall, F1 and ROC AUC, the confusion matrix, the misclassified photos, and
a table per `--by` column with its worst group named and its small groups flagged."""

from __future__ import annotations

from collections.abc import Sequence

from gendersort.review.evaluation.audit import LabelledAudit
from gendersort.review.evaluation.intervals import Interval, wilson
from gendersort.review.evaluation.scoring import SMALL_GROUP, GroupScore, confusion, no_worst
from gendersort.wording import counted

EXAMPLES = 3  # paths shown of each kind not scored
MISSES_SHOWN = 10  # misclassified photos printed
FIGURES = ("accuracy", "balanced", "women", "men")
FIGURE_WIDTH = 19  # "100.00 (92.5-100.0)"


def figure(value: float | None, interval: Interval | None) -> str:
    """'93.61 (92.5-94.6)', in percent; '-' where the group has no one to measure it on."""
    if value is None or interval is None:
        return "-"
    low, high = interval
    return f"{value * 100:.2f} ({low * 100:.1f}-{high * 100:.1f})"


def figures(score: GroupScore) -> list[str]:
    return [figure(score.accuracy, wilson(score.correct, score.n)),
            figure(score.balanced_accuracy, score.balanced_interval),
            figure(score.women, wilson(score.women_correct, score.women_n)),
            figure(score.men, wilson(score.men_correct, score.men_n))]


def table(scores: Sequence[GroupScore], flag_small: bool) -> list[str]:
    names = [score.group + ("*" if flag_small and score.too_small else "") for score in scores]
    width = max(8, *(len(name) for name in names))
    header = (f"{'group':<{width}} {'n':>7}  " + "  ".join(f"{name:<{FIGURE_WIDTH}}" for name in FIGURES)
              + "  no face  unreadable")
    lines = [header]
    for name, score in zip(names, scores, strict=True):
        cells = "  ".join(f"{cell:<{FIGURE_WIDTH}}" for cell in figures(score))
        lines.append(f"{name:<{width}} {score.n:>7}  {cells}  {score.no_face:>7}  {score.unreadable:>10}")
    return lines


def unscored_lines(audit: LabelledAudit) -> list[str]:
    matched, duplicates = audit.matched, audit.labels.duplicates
    differing = sum(differ for _, differ in duplicates.values())
    kinds = [
        (matched.missing, "labelled photos without a row in the results (not scored)"),
        (matched.unlabelled, "photos in the results without a label (not scored)"),
        (matched.duplicates, "photos with more than one row in the results (scored by the first)"),
        (list(duplicates), f"paths listed more than once in the labels (scored by the first row; "
                           f"{differing} with differing labels)"),
        ([f"{row.path}: {row.error}" for row in audit.unreadable],
         "photos that could not be read (counted wrong)"),
    ]
    lines = [f"{what}: {len(paths)}, e.g. {'; '.join(paths[:EXAMPLES])}" for paths, what in kinds if paths]
    if audit.labels.without_label:
        lines.append(f"rows of the labels file without a label (passed over): {audit.labels.without_label}")
    return lines


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.2f}"


def male_positive(overall: dict[str, object]) -> str:
    """'male as positive: precision 93.10, recall 95.00, F1 94.04; ROC AUC 0.9812' (the AUC of p_male)."""
    precision, recall, f1, auc = (overall[key] for key in ("precision", "recall", "f1", "roc_auc"))
    return (f"male as positive: precision {percent(precision)}, recall {percent(recall)}, F1 {percent(f1)}; "
            f"ROC AUC {'-' if auc is None else f'{auc:.4f}'}")


def misclassified_lines(audit: LabelledAudit) -> list[str]:
    """The count of photos counted wrong, and the first few (--misclassified FILE lists them all)."""
    misses = audit.misclassified
    lines = [f"misclassified: {len(misses)} (a wrong answer, no face or unreadable)"]
    for miss in misses[:MISSES_SHOWN]:
        score = "" if miss.p_male is None else f" (p_male {miss.p_male:.4f})"
        lines.append(f"  {miss.path}: {miss.truth}, predicted {miss.predicted}{score}")
    if len(misses) > MISSES_SHOWN:
        lines.append(f"  ... and {len(misses) - MISSES_SHOWN} more (--misclassified FILE lists them all)")
    return lines


def audit_report(audit: LabelledAudit) -> str:
    scored = audit.scored
    versions = ", ".join(audit.model_versions) or "unknown"
    (ff, fm, f_none, f_bad), (mf, mm, m_none, m_bad) = confusion(scored)
    lines = [
        f"labelled photos scored: {len(scored.is_male)} of {len(audit.labels.photos)} (no face: "
        f"{f_none + m_none}, unreadable: {f_bad + m_bad}; both count as wrong); model {versions}",
        *unscored_lines(audit),
        "figures in %, each with its 95% interval (Wilson; balanced accuracy: MOVER of women's and men's)",
        *table([GroupScore.of("all", scored)], flag_small=False),
        "confusion matrix (rows: truth, columns: predicted)",
        f"{'':>10} {'female':>8} {'male':>8} {'no face':>8} {'unreadable':>10}",
        f"{'female':>10} {ff:>8} {fm:>8} {f_none:>8} {f_bad:>10}",
        f"{'male':>10} {mf:>8} {mm:>8} {m_none:>8} {m_bad:>10}",
        male_positive(audit.overall),
        "expected accuracy (the model's own probabilities) beside the true one, photos with a face by "
        "predicted label:",
        *(f"  {check.sentence()}" for check in audit.expected_vs_true),
        *misclassified_lines(audit),
    ]
    for column, scores in audit.columns.items():
        worst = audit.worst(column)
        named = (f"worst: {worst.group} (balanced accuracy {worst.balanced_accuracy * 100:.2f})" if worst
                 else no_worst(scores))
        lines += ["", f"by {column}: {counted(len(scores), 'group')}; {named}",
                  *table(scores, flag_small=True)]
        if any(score.too_small for score in scores):
            lines.append(f"* too small to rank: fewer than {SMALL_GROUP} photos")
    return "\n".join(lines)
