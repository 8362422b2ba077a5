"""The README's two commands as a newcomer meets them: the test command says why tests were skipped, CI runs
that very command, the first command's output stays out of `git status`, and the docs' Getting started
quotes both and what the first writes."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


GETTING_STARTED = ROOT / "docs" / "getting-started.md"


def first_commands(page: Path) -> list[str]:
    """The shell commands of a page's first code block, split at &&."""
    block = re.search(r"```bash\n(.*?)```", page.read_text(encoding="utf-8"), re.S).group(1)
    return [command.strip() for line in block.splitlines() for command in line.split("&&")]


def readme_commands() -> list[str]:
    return first_commands(ROOT / "README.md")


def test_getting_started_quotes_the_readmes_two_commands():
    assert first_commands(GETTING_STARTED) == readme_commands()


def test_the_readme_test_command_lists_the_skip_reasons_and_ci_runs_it():
    (tests,) = [command for command in readme_commands() if "pytest" in command]
    assert tests == ".venv/bin/python -m pytest -q -rs"
    assert tests in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()


def test_the_readme_test_command_installs_what_ci_installs():
    """A newcomer's run skips no test that CI runs for want of an extra."""
    def extras(text: str) -> set[str]:
        (found,) = re.findall(r'pip install (?:-q )?-e "\.\[([\w,]+)\]"', text)
        return set(found.split(","))

    (install,) = [command for command in readme_commands() if "pip install" in command and "test" in command]
    assert extras(install) == extras((ROOT / ".ci" / "run").read_text(encoding="utf-8"))
    assert {"test", "ray", "docs"} <= extras(install)


def test_each_readme_install_brings_exactly_one_onnxruntime():
    """onnxruntime comes with an extra, cpu or gpu (pyproject.toml): without one nothing can be classified."""
    installs = [command for command in readme_commands() if "pip install" in command]
    assert len(installs) == 2
    for install in installs:
        extras = set(re.search(r'"\.\[([\w,]+)\]"', install).group(1).split(","))
        assert len(extras & {"cpu", "gpu"}) == 1, install


def test_the_first_commands_results_csv_is_ignored_by_git():
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout of the repository")
    (classify,) = [command for command in readme_commands() if " classify " in command]
    output = re.search(r"--out (\S+)", classify).group(1)
    assert subprocess.run(["git", "check-ignore", "--quiet", output], cwd=ROOT).returncode == 0


def test_getting_started_says_what_the_first_command_writes_for_the_example_folder(tmp_path):
    """Getting started quotes the example folder's rows (label and p_male): what classify writes."""
    import csv

    from typer.testing import CliRunner

    from gendersort.cli import app

    out = tmp_path / "results.csv"
    examples = str(ROOT / "examples" / "photos")
    result = CliRunner().invoke(app, ["classify", examples, "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    rows = {Path(row["path"]).name: row for row in csv.DictReader(out.open())}
    said = " ".join(GETTING_STARTED.read_text(encoding="utf-8").split())
    woman, man = rows["astronaut.jpg"], rows["camera.jpg"]
    assert (woman["label"], man["label"], rows["chelsea.jpg"]["status"]) == ("female", "male", "no_face")
    assert f"`female` with p_male {float(woman['p_male']):.3f}" in said
    assert f"{1 - float(woman['p_male']):.1%} sure" in said
    assert f"`male` at {float(man['p_male']):.3f}" in said
