"""Nothing sent, nothing stray (#23): a run writes its outputs and nothing else, onnxruntime's telemetry
files (a device id, queued usage events under ~/.cache/Microsoft) included, in the CLI, the Python API and
on Ray; a user who sets onnxruntime's own variable keeps their choice."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES

TELEMETRY_OPT_OUT = "ORT_DISABLE_TELEMETRY"  # onnxruntime's own variable
ONNXRUNTIME_CACHE = Path(".cache", "Microsoft", "DeveloperTools", ".onnxruntime")
# onnxruntime writes nothing where one of these says it runs in CI (seen with CI=true, as CI sets it): the
# tests run it as on a user's machine, without them, so that what it would write there is seen.
CI_MARKS = ("CI", "TF_BUILD", "GITHUB_ACTIONS", "GITLAB_CI", "CIRCLECI", "TRAVIS", "JENKINS_URL",
            "CODEBUILD_BUILD_ID", "BUILDKITE", "TEAMCITY_VERSION", "APPVEYOR", "BITBUCKET_BUILD_NUMBER")


def run_at_home(tmp_path: Path, *arguments: object, **variables: str) -> list[str]:
    """Run `python ARGUMENTS...` with HOME, the cache and the temporary folder in `tmp_path`, the opt-out
    unset unless given (the tests' own process sets it) and no CI variable; the files then under
    `tmp_path`."""
    home, scratch = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    scratch.mkdir()
    left_out = (TELEMETRY_OPT_OUT, "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", *CI_MARKS)
    env = {name: value for name, value in os.environ.items() if name not in left_out}
    env |= {"HOME": str(home), "TMPDIR": str(scratch)} | variables
    run = subprocess.run([sys.executable, *map(str, arguments)], env=env, cwd=tmp_path, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    return sorted(str(path.relative_to(tmp_path)) for path in tmp_path.rglob("*") if path.is_file())


def test_classify_writes_its_output_and_nothing_else(tmp_path):
    written = run_at_home(tmp_path, "-m", "gendersort", "classify", EXAMPLES, "--out", "results.csv",
                          "--device", "cpu", "--quiet")
    assert written == ["results.csv"]


def test_the_python_api_writes_nothing(tmp_path):
    code = (f"from gendersort import classify_paths; "
            f"assert len(list(classify_paths([{str(EXAMPLES)!r}], device='cpu'))) == 3")
    assert run_at_home(tmp_path, "-c", code) == []


def test_a_user_who_turns_telemetry_on_keeps_their_choice(tmp_path):
    """onnxruntime here does write its files when asked to: what the tests above would see."""
    written = run_at_home(tmp_path, "-m", "gendersort", "classify", EXAMPLES, "--out", "results.csv",
                          "--device", "cpu", "--quiet", **{TELEMETRY_OPT_OUT: "0"})
    assert "results.csv" in written
    assert str("home" / ONNXRUNTIME_CACHE / "deviceid") in written


def test_ray_actors_keep_telemetry_off(tmp_path):
    for module in ("ray", "ray.data", "pyarrow"):
        pytest.importorskip(module, reason="needs the ray extra (pip install -e '.[ray]')")
    # Ray keeps its sockets and logs in /tmp/ray (a socket's path may not exceed 107 bytes)
    run_at_home(tmp_path, "-m", "gendersort", "classify", EXAMPLES, "--engine", "ray", "--out", "results",
                "--device", "cpu", "--quiet", RAY_USAGE_STATS_ENABLED="0", TMPDIR=tempfile.gettempdir())
    assert not (tmp_path / "home" / ".cache" / "Microsoft").exists()
    assert list((tmp_path / "results").glob("part-*.parquet"))
