"""Mutation testing: ``make mutants`` (not part of CI).

For each group below, mutmut changes the group's files one small edit at a time (``<`` → ``<=``,
``+`` → ``-``, a constant → another, a call's argument dropped, …) and runs the group's tests on
each mutant. A mutant that no test notices ("survived") is a bug the suite would let through,
unless it is *equivalent* (the program behaves the same): those are listed, each with one line
of reasoning, in ``tools/equivalent_mutants.txt``.

Each group runs in its own copy of the tree under ``build/mutants/<group>`` with its own test
subset, so a run stays well under an hour on 2 cores. Usage::

    python tools/mutants.py                  # every group
    python tools/mutants.py graph checks     # some groups
    python tools/mutants.py --keep checks    # reuse the previous copy and results (faster rerun)
    python tools/mutants.py checks --only NAME ...   # retest some mutants after adding tests

The score of a file is killed / (mutants − accepted equivalents); timeouts count as killed.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "mutants"
EQUIVALENT = ROOT / "tools" / "equivalent_mutants.txt"


@dataclass(frozen=True)
class Group:
    """Files to mutate (globs) and the tests that cover them."""

    mutate: tuple[str, ...]
    tests: tuple[str, ...]
    #: tests too slow to run once per mutant (what they guard is covered by smaller ones)
    deselect: tuple[str, ...] = ()


GROUPS = {
    "graph": Group(("autograd_core/graph/*",),
                   ("tests/autograd_core/test_engine.py", "tests/autograd_core/test_walk_order.py",
                    "tests/autograd_core/test_memory.py", "tests/autograd_core/test_functional.py",
                    "tests/autograd_core/test_tensor.py", "tests/autograd_core/test_checks.py",
                    "tests/autograd_core/test_gradcheck_details.py",
                    "tests/autograd_core/test_engine_details.py",
                    "tests/autograd_core/test_course_examples.py",
                    "tests/autograd_core/test_reliability.py",          # hooks, observers, no-copy
                    "tests/autograd_core/test_backward_arrays.py",      # the array-level rules
                    "tests/autograd_core/test_vocabulary.py"),          # InverseRule.label
                   deselect=tuple(f"tests/autograd_core/test_memory.py::{name}" for name in (
                       "test_million_node_chain_backward_without_recursion",    # 150 s alone
                       "test_deep_chain_can_be_dropped_without_backward",
                       "test_deep_chain_mixed_ops_gradient",
                       "test_building_and_dropping_graphs_creates_no_reference_cycles",
                       "test_training_steps_do_not_grow_memory"))),
    "checks": Group(("autograd_core/checks.py",),
                    ("tests/autograd_core/test_checks.py",
                     "tests/autograd_core/test_gradcheck_tolerance.py",
                     "tests/autograd_core/test_gradcheck_details.py",
                     "tests/autograd_core/test_graph_checks.py")),      # check_ops, check_inputs
    "ops": Group(("autograd_core/ops/*",),
                 ("tests/autograd_core/test_ops.py", "tests/autograd_core/test_tensor.py",
                  "tests/autograd_core/test_numerics.py",
                  "tests/autograd_core/test_course_examples.py",
                  "tests/autograd_core/test_shape_functions.py")),   # split, squeeze, …
    "optim": Group(("optim/optimizer.py", "optim/optimizers.py"),
                   ("tests/optim/test_optimizers.py", "tests/optim/test_optimizer_by_hand.py",
                    "tests/optim/test_reliability.py",                  # all-or-nothing steps
                    "tests/viz/test_update.py")),       # record_step, update_terms: the pictures
    "losses": Group(("nn/losses.py",),
                    ("tests/nn/test_losses.py", "tests/nn/test_losses_by_hand.py",
                     "tests/nn/test_loss_errors.py", "tests/nn/test_loss_paths.py")),
    # viz's label code: number formatting and the es/en words every picture reads
    "labels": Group(("viz/labels.py", "autograd_core/vocabulary.py"),
                    ("tests/autograd_core/test_vocabulary.py", "tests/viz/test_label_truth.py",
                     "tests/viz/test_labels_text.py",
                     "tests/viz/test_graph_model.py")),
}

# mutmut's exit-code meanings (mutmut.stats.status_by_exit_code), folded into what we report:
# killed = a test failed, pytest errored, timed out or the type check caught it
KILLED = {1, 3, 36, 37, -24, 24, 152, 255}
TIMEOUT = {-24, 24, 152}                            # among KILLED: a mutant that loops forever
SURVIVED = {0}
NO_TESTS = {5, 33}                                  # no test of the group runs that function


def _tracked_files() -> list[Path]:
    """The files of the project (git's list when in a clone, else every file but caches)."""
    try:
        out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                             check=True, capture_output=True, text=True).stdout
        return [Path(line) for line in out.splitlines() if line]
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", ".venv", "build", ".numba_cache", "__pycache__", ".pytest_cache"}
        return [p.relative_to(ROOT) for p in ROOT.rglob("*")
                if p.is_file() and not skip & set(p.relative_to(ROOT).parts)]


def _deselect_args(group: Group) -> list[str]:
    return [arg for test in group.deselect for arg in ("--deselect", test)]


def _mutmut_config(group: Group, timeout: float) -> str:
    """mutmut's settings for one group.

    A mutant's test run is stopped after ``timeout`` × (the tests' own time + 5 s) of wall time
    (twice that of CPU time) and counted as killed, as a mutant that loops forever should be.
    At low priority on a busy machine a run that does not loop can take many times its own
    time too, so the report counts timeouts apart: recheck them with a larger ``--timeout``
    (mutmut then reruns only the mutants that timed out).
    """
    tests = [t for t in group.tests if (ROOT / t).exists()]
    lines = ["", "[tool.mutmut]",
             'source_paths = ["autograd_core", "nn", "optim", "viz"]',
             f"only_mutate = {json.dumps(list(group.mutate))}",
             f"pytest_add_cli_args_test_selection = {json.dumps(tests)}",
             "pytest_add_cli_args = "
             f"{json.dumps(['-p', 'no:cacheprovider', *_deselect_args(group)])}",
             f"timeout_multiplier = {float(timeout)}", "timeout_constant = 5.0",
             "use_git_change_detection = false", ""]
    return "\n".join(lines)


def prepare(name: str, group: Group, keep: bool, timeout: float) -> Path:
    """Copy the project into build/mutants/<name> with a [tool.mutmut] section for the group."""
    where = WORK / name
    if where.exists() and not keep:
        shutil.rmtree(where)
    for rel in _tracked_files():
        source, target = ROOT / rel, where / rel
        if source.is_file() and rel.parts[0] not in ("build",):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    text = (ROOT / "pyproject.toml").read_text()
    text = re.sub(r"\n\[tool\.mutmut\].*?(?=\n\[|\Z)", "", text, flags=re.S)
    (where / "pyproject.toml").write_text(text + _mutmut_config(group, timeout))
    return where


def run_group(where: Path, jobs: int, names: list[str] = ()) -> int:
    env = dict(os.environ)
    env.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache"))
    env.pop("PYTHONPATH", None)                 # mutmut puts its mutants/ first on sys.path
    # NOTE: mutmut forks each mutant's test run from a process that already ran the suite; an
    # OpenMP or OpenBLAS thread pool started there (torch's, for the parity tests) is gone in
    # the child, whose first parallel call then waits forever at the pool's barrier: every
    # mutant that reaches a torch test "timed out", i.e. was counted killed. One thread each.
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = "1"
    command = [sys.executable, "-m", "mutmut", "run", "--max-children", str(jobs), *names]
    return subprocess.run(command, cwd=where, env=env).returncode


def load_equivalents() -> dict[str, str]:
    """``mutant name  # reason`` lines; a name without a reason is refused."""
    accepted = {}
    if not EQUIVALENT.exists():
        return accepted
    for number, line in enumerate(EQUIVALENT.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, reason = line.partition("#")
        if not reason.strip():
            raise SystemExit(f"{EQUIVALENT}:{number}: {name.strip()} has no reason")
        accepted[name.strip()] = reason.strip()
    return accepted


def results(where: Path) -> dict[str, dict[str, int | None]]:
    """{source file: {mutant name: exit code}} from mutmut's .meta files."""
    found = {}
    for meta in sorted((where / "mutants").rglob("*.py.meta")):
        rel = meta.relative_to(where / "mutants").as_posix()[: -len(".meta")]
        codes = json.loads(meta.read_text()).get("exit_code_by_key", {})
        if codes:
            found[rel] = codes
    return found


def report(by_file: dict, accepted: dict[str, str]) -> list[str]:
    """Print one score line per file; return the surviving mutants not accepted as equivalent."""
    open_survivors = []
    print(f"{'file':40} {'mutants':>7} {'killed':>6} {'(timeout)':>9} {'equiv':>5} {'surv':>4}"
          f" {'untested':>8} {'other':>5} {'score':>7}")
    for path, codes in by_file.items():
        killed = sum(c in KILLED for c in codes.values())
        timeouts = sum(c in TIMEOUT for c in codes.values())
        equivalent = [n for n, c in codes.items() if c in SURVIVED and n in accepted]
        survivors = [n for n, c in codes.items() if c in SURVIVED and n not in accepted]
        untested = sum(c in NO_TESTS for c in codes.values())
        other = len(codes) - killed - len(equivalent) - len(survivors) - untested
        judged = len(codes) - len(equivalent)
        score = 100.0 * killed / judged if judged else 100.0
        print(f"{path:40} {len(codes):7} {killed:6} {timeouts:9} {len(equivalent):5}"
              f" {len(survivors):4} {untested:8} {other:5} {score:6.1f}%")
        open_survivors += survivors
    return open_survivors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("groups", nargs="*", metavar="GROUP",
                        help=f"groups to run (default: all of {', '.join(GROUPS)})")
    parser.add_argument("--keep", action="store_true", help="reuse the previous copy and results")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--timeout", type=float, default=10.0, metavar="FACTOR",
                        help="stop a mutant's tests after FACTOR × (their time + 5 s) of wall "
                             "time; default 10")
    parser.add_argument("--only", nargs="+", default=[], metavar="NAME",
                        help="retest only these mutants (implies --keep)")
    args = parser.parse_args(argv)
    unknown = [g for g in args.groups if g not in GROUPS]
    if unknown:
        parser.error(f"unknown group(s) {', '.join(unknown)}; expected some of {', '.join(GROUPS)}")
    accepted = load_equivalents()
    survivors = []
    for name in args.groups or list(GROUPS):
        print(f"== mutants: {name} ==", flush=True)
        where = prepare(name, GROUPS[name], args.keep or bool(args.only), args.timeout)
        code = run_group(where, args.jobs, args.only)
        if code != 0:
            print(f"mutmut run failed for group {name} (exit code {code})")
            return code
        survivors += report(results(where), accepted)
    if survivors:
        print("\nSurvivors (kill each with a test, or add it with a reason to "
              f"{EQUIVALENT.relative_to(ROOT)}); see one with "
              "'cd build/mutants/<group> && python -m mutmut show NAME':")
        print("\n".join(f"  {name}" for name in survivors))
    return 0


if __name__ == "__main__":
    sys.exit(main())
