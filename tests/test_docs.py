"""The documentation site builds: `mkdocs build --strict` fails on a broken link or anchor, a page left out
of the navigation, or the model card (included from the package) or its plots gone missing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def git_status() -> str:
    return subprocess.run(["git", "status", "--porcelain", "--ignored"], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout


def test_the_docs_site_builds_strictly_and_writes_only_its_site(tmp_path):
    pytest.importorskip("mkdocs", reason="needs the docs extra (pip install -e '.[docs]')")
    pytest.importorskip("material", reason="needs the docs extra (pip install -e '.[docs]')")
    in_git = shutil.which("git") is not None and (ROOT / ".git").exists()
    before = git_status() if in_git else ""
    site = tmp_path / "site"
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml"),
         "--site-dir", str(site)],
        cwd=tmp_path, capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert build.returncode == 0, build.stderr
    card = (site / "models" / "model-card" / "index.html").read_text(encoding="utf-8")
    assert "Model card: gendersort gender classifier" in card
    assert {plot.name for plot in (ROOT / "gendersort" / "models" / "plots").glob("*.png")} == {
        plot.name for plot in (site / "models" / "plots").glob("*.png")}
    if in_git:
        assert git_status() == before
        assert subprocess.run(["git", "check-ignore", "--quiet", "site/"], cwd=ROOT).returncode == 0
