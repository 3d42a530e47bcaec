"""The package as pip sees it: one version source, metadata, and every third-party import of the
four packages (lazy ones inside functions included) declared in pyproject.toml."""
from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import pytest

import autograd_core

tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from 3.11")

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("autograd_core", "nn", "optim", "viz")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _normalized(name: str) -> str:
    """PEP 503: case and runs of -_. do not matter."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    return _normalized(re.match(r"[A-Za-z0-9._-]+", requirement).group(0))


def _declared() -> dict[str, set[str]]:
    """Distribution name → where it is declared ("dependencies" or the extra's name)."""
    project = PYPROJECT["project"]
    where: dict[str, set[str]] = {}
    groups = {"dependencies": project["dependencies"], **project["optional-dependencies"]}
    for group, requirements in groups.items():
        for requirement in requirements:
            where.setdefault(_requirement_name(requirement), set()).add(group)
    return where


def _third_party_imports() -> dict[str, set[str]]:
    """Top-level module → files importing it, for every import statement in the packages."""
    local = set(PACKAGES)
    found: dict[str, set[str]] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in local and top not in sys.stdlib_module_names:
                        found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_third_party_import_is_declared():
    distributions = importlib.metadata.packages_distributions()
    declared = _declared()
    undeclared = {}
    for module, files in _third_party_imports().items():
        names = {_normalized(d) for d in distributions.get(module, [module])}
        if not names & set(declared):
            undeclared[module] = sorted(files)
    assert undeclared == {}, f"imported but not in pyproject.toml: {undeclared}"
    assert {"pillow", "safetensors", "pooch", "platformdirs", "joblib"} <= {
        name for name, groups in declared.items() if "dependencies" in groups}
    assert {"dev", "dask", "test"} <= set(PYPROJECT["project"]["optional-dependencies"])


def test_the_version_has_one_source():
    assert PYPROJECT["project"]["version"] == importlib.metadata.version("neurona")
    assert autograd_core.__version__ == importlib.metadata.version("neurona")
    literal = re.compile(r"""__version__\s*=\s*["']\d+\.\d+""")        # e.g. "0.1.0"
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            assert not literal.search(path.read_text(encoding="utf-8")), path


def test_metadata_names_license_authors_and_classifiers():
    project = PYPROJECT["project"]
    assert project["license"] == "MIT" and (ROOT / "LICENSE").read_text().startswith("MIT")
    assert project["authors"] and project["requires-python"] == ">=3.10"
    assert "Intended Audience :: Education" in project["classifiers"]
    versions = [c.rsplit(" :: ", 1)[1] for c in project["classifiers"]
                if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)]
    assert versions[0] == "3.10"                       # classifiers agree with requires-python
