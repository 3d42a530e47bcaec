"""Every notebook in ``notebooks/`` runs top to bottom, and is committed without outputs.

Each notebook is executed with nbclient in a kernel started from this interpreter
(``sys.executable``: the project's virtual environment), in a temporary copy of ``notebooks/``,
with ``MPLBACKEND=Agg``. A cell that raises fails the notebook's test with that cell's error.
After the run, every figure its Markdown states must be one the executed outputs contain
(``claims.unbound_figures``), and the same check must catch a wrong figure planted in a copy;
README.md's one-line entry for the notebook is held to the same rule.
"""
from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from . import claims

try:
    import nbformat
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    _IMPORT_ERROR: ImportError | None = None
except ImportError as exc:                      # fail loudly below, never skip
    _IMPORT_ERROR = exc

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
# NOTE: hang guards, not speed checks (speed is measured by benchmarks, never asserted by a
# test: a busy machine must not fail the suite); each notebook prints its own wall time
CELL_TIMEOUT = 600                              # seconds per cell
NOTEBOOK_TIMEOUT = 900                          # seconds per notebook

# The kernel's first cell: it must run in the interpreter that runs the tests.
CHECK_EXECUTABLE = "import sys; print(sys.executable)"


def _require_nbclient() -> None:
    if _IMPORT_ERROR is not None:
        pytest.fail(f"cannot execute notebooks: {_IMPORT_ERROR}. Install the test extra: "
                    "pip install -e '.[test]' (nbclient, nbformat, ipykernel)", pytrace=False)


def _kernel_manager() -> KernelManager:
    """A kernel started with this interpreter, whatever the installed python3 kernelspec says."""
    km = KernelManager(kernel_name="python3")
    # jupyter_client swaps a bare "python" in argv for sys.executable, but an installed spec may
    # name another interpreter by its full path: pin ours (the spec object is this km's own copy).
    km.kernel_spec.argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    return km


def _execute(path: Path, workdir: Path):
    """Run the notebook at ``path`` in ``workdir``; return (notebook, kernel's sys.executable)."""
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(CHECK_EXECUTABLE))
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    km = _kernel_manager()
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                            km=km, resources={"metadata": {"path": str(workdir)}})
    try:
        client.execute(env=env, cwd=str(workdir))
    finally:                    # a kernel manager we pass in is ours to stop: nbclient leaves it up
        if km.has_kernel:
            km.shutdown_kernel(now=True)
    executable = "".join(out.get("text", "") for out in nb.cells[0].outputs).strip()
    return nb, executable


def test_notebooks_found():
    assert NOTEBOOKS, f"no notebooks found in {NOTEBOOKS_DIR}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_committed_without_outputs(path: Path):
    _require_nbclient()
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
             and (cell.get("outputs") or cell.get("execution_count") is not None)]
    assert not dirty, (f"{path.name}: cells {dirty} have outputs or execution counts; "
                       "strip them before committing")


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes(path: Path, tmp_path: Path):
    _require_nbclient()
    workdir = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS_DIR, workdir)     # figures the notebook writes stay out of the repo
    start = time.perf_counter()
    try:
        nb, executable = _execute(workdir / path.name, workdir)
    except CellExecutionError as exc:
        pytest.fail(f"{path.name}: a cell raised\n{exc}", pytrace=False)
    elapsed = time.perf_counter() - start
    assert Path(executable) == Path(sys.executable), (
        f"{path.name} ran in {executable!r}, not in the tests' interpreter {sys.executable!r}")
    print(f"{path.name}: {elapsed:.0f} s")
    assert elapsed < NOTEBOOK_TIMEOUT, (
        f"{path.name} took {elapsed:.0f} s: more than the {NOTEBOOK_TIMEOUT} s hang guard")
    unbound = claims.unbound_figures(nb)
    assert not unbound, claims.describe(path.name, unbound)
    _assert_catches_planted_figure(nb, path.name)
    entry = claims.readme_entry((ROOT / "README.md").read_text(encoding="utf-8"), path.name)
    assert entry, f"README.md's Notebooks section has no entry linking to notebooks/{path.name}"
    stale = claims.unbound_in_text(nb, entry)
    assert not stale, claims.describe(f"README.md's entry for {path.name}", stale)


def _assert_catches_planted_figure(nb, name: str) -> None:
    """The claim check on this notebook's real outputs flags a figure none of them contains."""
    planted = next(f"{v} %" for v in (97.31, 13.579, 42.4242, 86.8686)
                   if not any(abs(c - v) <= 0.006 for c in claims.computed_numbers(nb)))
    nb.cells.append(nbformat.v4.new_markdown_cell(f"The network reaches {planted} on test."))
    try:
        flagged = [f.text for f in claims.unbound_figures(nb)]
    finally:
        nb.cells.pop()
    assert flagged == [planted], f"{name}: a planted wrong figure {planted!r} was not caught"
