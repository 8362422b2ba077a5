"""Every import runs down the stages, in the order a photo travels, never back up: a test that reads every
module of gendersort/ (ast, nothing is imported) and names each import from a later stage into an earlier
one."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "gendersort"
# The stages, earliest first: each may import those before it, never one after it. The models come before
# the faces: the face detector is one of the ONNX models (models/session.py runs it), and the chip it cuts
# has the classifier's geometry (models/chip_geometry.py).
STAGES = ("photos", "models", "faces", "pipeline", "outputs", "sorting", "review", "engines", "cli")
SHARED, TOP = -1, len(STAGES) - 1


def stage_of(module: str) -> int:
    """Where a dotted gendersort module stands: its stage's place in STAGES; SHARED for a top-level module
    beside the stages (errors, labels, printable, progress, wording: importable from any stage, importing
    none); the package's face (its __init__, the public API and __version__, and __main__) stands on top,
with cli/."""
    parts = module.split(".")
    if module in ("gendersort", "gendersort.__main__"):
        return TOP
    return STAGES.index(parts[1]) if parts[1] in STAGES else SHARED


def climbs_back(importer: str, imported: str) -> bool:
    return stage_of(imported) > stage_of(importer)


def module_of(path: Path, root: Path = PACKAGE.parent) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, root: Path = PACKAGE.parent) -> list[tuple[int, str]]:
    """(line, module) of every gendersort import in the file, relative ones resolved, lazy ones included."""
    module, found = module_of(path, root), []
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level:
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            found.append((node.lineno, ".".join(base + ([node.module] if node.module else []))))
        elif isinstance(node, ast.ImportFrom):
            found.append((node.lineno, node.module or ""))
    return [(line, name) for line, name in found if name.split(".")[0] == "gendersort"]


def test_every_import_runs_down_the_stages() -> None:
    climbs = [f"{path.relative_to(PACKAGE.parent)}:{line} imports {name}"
              for path in sorted(PACKAGE.rglob("*.py")) for line, name in imports_of(path)
              if climbs_back(module_of(path), name)]
    assert climbs == []


def test_every_stage_folder_is_placed() -> None:
    folders = {path.name for path in PACKAGE.iterdir() if (path / "__init__.py").is_file()}
    assert folders == set(STAGES), "a folder that STAGES does not place (or a stage without a folder)"


def test_a_climb_is_seen(tmp_path: Path) -> None:
    """The check itself: an earlier stage importing a later one, or a shared module a stage, is a climb;
    relative imports are resolved."""
    assert climbs_back("gendersort.faces.align", "gendersort.pipeline.api")
    assert climbs_back("gendersort.wording", "gendersort.photos.walk")
    assert not climbs_back("gendersort.cli.app", "gendersort.engines.ray")
    assert not climbs_back("gendersort.photos.walk", "gendersort.errors")
    module = tmp_path / "gendersort" / "outputs" / "late.py"
    module.parent.mkdir(parents=True)
    module.write_text("from ..review import report\n\ndef f():\n    import gendersort.cli.app\n")
    found = imports_of(module, root=tmp_path)
    assert found == [(1, "gendersort.review"), (4, "gendersort.cli.app")]
    assert all(climbs_back("gendersort.outputs.late", name) for _, name in found)
