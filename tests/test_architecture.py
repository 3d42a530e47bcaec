"""Architecture rules of STYLE.md, enforced (§1 layers inside the core, §5 import arrows, R5/R8).

Every module of ``autograd_core``, ``nn``, ``optim`` and ``viz`` is parsed with ``ast`` (never
imported), so the rules hold for code that is not run by any other test too:

* package arrows: nn, optim, viz → autograd_core; optim → nn only from ``optim/training``;
  viz → nn; nothing else (so autograd_core imports none of them and nothing imports viz);
* no private name of the core (a path component or an imported name starting with ``_``) is used
  from outside it;
* inside the core, a module imports only from its own layer or a lower one (STYLE §1), kernels
  import nothing of the core outside ``kernels/``, and the core's only third-party imports are
  numpy and numba;
* no function of the core calls itself (directly, or through other functions of its module), so
  no graph walk can be recursive; a 20,000-deep graph goes through backward and ``release()``.

The rules are data (the tables below), and the checkers are tested on synthetic sources, so the
test can be seen to fail.
"""
from __future__ import annotations

import ast
import sys
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import autograd_core as ag
from autograd_core.graph.walk import topological_order

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("autograd_core", "nn", "optim", "viz")
ANY = None                                   # "any module of the package may import it"

# --- the rules, as data ---------------------------------------------------------------------
#: (importing package, imported package) → modules allowed to import it (prefixes), or ANY.
PACKAGE_ARROWS: dict[tuple[str, str], tuple[str, ...] | None] = {
    ("nn", "autograd_core"): ANY,
    ("optim", "autograd_core"): ANY,
    ("optim", "nn"): ("optim.training",      # the fit loop and callbacks
                      "optim.compile"),      # the step compiler inspects modules (hooks, dropout)
    ("viz", "autograd_core"): ANY,
    ("viz", "nn"): ANY,                      # layer/neuron grouping
}

#: STYLE §1, lowest first. A key ending in ".*" covers a whole package.
CORE_LAYERS: dict[str, int] = {
    "autograd_core.kernels.*": 1,
    "autograd_core.graph.walk": 1,
    "autograd_core.graph.rules": 1,
    "autograd_core.vocabulary": 1,           # the es/en words of every picture and rule
    "autograd_core.grad_mode": 1,
    "autograd_core.dtypes": 1,
    "autograd_core.errors": 1,
    "autograd_core.graph": 1,                # graph/__init__.py: importing graph.walk runs it
    "autograd_core.graph.node": 2,
    "autograd_core.ops.*": 3,
    "autograd_core.tensor": 3,               # tensor <-> ops: the documented cycle (same layer)
    "autograd_core.creation": 3,             # factories: build Tensors
    "autograd_core.random": 3,
    "autograd_core.graph.engine": 4,
    "autograd_core.functional": 5,
    "autograd_core.checks": 5,
    "autograd_core": 6,                      # __init__.py: the public names
}

#: Upward arrows inside the core that are accepted, with the reason.
CORE_UPWARD_EXCEPTIONS: dict[tuple[str, str], str] = {
    ("autograd_core.tensor", "autograd_core.graph.engine"):
        "Tensor.backward() delegates to engine.backward(); imported at the bottom of "
        "tensor.py like ops (STYLE §1 documents only the tensor <-> ops cycle)",
}

KERNELS = "autograd_core.kernels"
CORE_THIRD_PARTY = {"numpy", "numba"}        # DESIGN §5: autograd_core ──► numpy, numba

#: Functions of the core allowed to call themselves, with the reason (none may walk a graph).
SELF_CALL_EXCEPTIONS: dict[tuple[str, str], str] = {
    ("autograd_core.ops.shape", "to_numpy_index"):
        "recurses into a (nested) index tuple given by the user, not into the graph",
}
#: Call cycles between functions of one module that are accepted, with the reason.
CALL_CYCLE_EXCEPTIONS: dict[tuple[str, frozenset[str]], str] = {
    ("autograd_core.checks", frozenset({"gradcheck", "_blame"})):
        "on failure gradcheck re-checks each op of the graph (found with topological_order) "
        "by calling itself with blame=False: depth 2 at most",
}


# --- reading modules ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Module:
    name: str            # dotted: autograd_core.ops.shape
    path: Path
    is_package: bool     # an __init__.py


@dataclass(frozen=True)
class Import:
    importer: str        # dotted name of the importing module
    target: str          # dotted absolute name of the imported module
    names: tuple         # names taken from it (``from target import a, b``), else ()
    line: int


def discover_modules() -> list[Module]:
    modules = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            modules.append(Module(".".join(parts), path, is_package))
    return modules


MODULES = discover_modules()
KNOWN = frozenset(m.name for m in MODULES)


def imports_of(module: str, source: str, is_package: bool = False,
               known: frozenset = KNOWN) -> list[Import]:
    """Every import in ``source`` (also inside functions), resolved to absolute module names.

    ``from pkg import sub`` counts as an import of ``pkg.sub`` (not of ``pkg``'s own names) when
    that is a known module.
    """
    package = module if is_package else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [Import(module, alias.name, (), node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            names = tuple(alias.name for alias in node.names)
            submodules = [name for name in names if f"{target}.{name}" in known]
            found += [Import(module, f"{target}.{name}", (), node.lineno) for name in submodules]
            if len(submodules) < len(names):
                found.append(Import(module, target, tuple(n for n in names
                                                          if n not in submodules), node.lineno))
    return found


def top(name: str) -> str:
    return name.split(".")[0]


def is_private(component: str) -> bool:
    return component.startswith("_") and not (component.startswith("__")
                                              and component.endswith("__"))


# --- the import checkers --------------------------------------------------------------------------
def arrow_violations(imp: Import) -> list[str]:
    """Package arrows (STYLE §5)."""
    src, dst = top(imp.importer), top(imp.target)
    if src == dst or dst not in PACKAGES:
        return []
    key = (src, dst)
    if key not in PACKAGE_ARROWS:
        return [f"{imp.importer}:{imp.line} imports {imp.target}: {src} must not import {dst}"]
    allowed = PACKAGE_ARROWS[key]
    if allowed is not ANY and not any(imp.importer == m or imp.importer.startswith(m + ".")
                                      for m in allowed):
        return [f"{imp.importer}:{imp.line} imports {imp.target}: only {', '.join(allowed)} "
                f"may import {dst} from {src}"]
    return []


def private_violations(imp: Import) -> list[str]:
    """No private module or name of the core from outside it (STYLE R8)."""
    if top(imp.importer) == "autograd_core" or top(imp.target) != "autograd_core":
        return []
    bad = [c for c in imp.target.split(".") if is_private(c)]
    bad += [n for n in imp.names if is_private(n)]
    if bad:
        return [f"{imp.importer}:{imp.line} uses private {', '.join(bad)} of {imp.target}; "
                "import the public name (e.g. autograd_core.Op)"]
    return []


def private_attribute_violations(module: str, source: str) -> list[str]:
    """``ag._x`` / ``autograd_core.ops._op`` reached by attribute from outside the core."""
    if top(module) == "autograd_core":
        return []
    tree = ast.parse(source)
    core_names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            core_names |= {(a.asname or a.name).split(".")[0] for a in node.names
                           if top(a.name) == "autograd_core"}
        elif isinstance(node, ast.ImportFrom) and node.module and top(node.module) == \
                "autograd_core":
            core_names |= {a.asname or a.name for a in node.names}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and is_private(node.attr):
            base = node.value
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name) and base.id in core_names:
                found.append(f"{module}:{node.lineno} uses private {ast.unparse(node)}")
    return found


def core_layer(name: str) -> int | None:
    if name in CORE_LAYERS:
        return CORE_LAYERS[name]
    for key, layer in CORE_LAYERS.items():
        if key.endswith(".*") and (name == key[:-2] or name.startswith(key[:-1])):
            return layer
    return None


def layer_violations(imp: Import) -> list[str]:
    """Inside the core: own layer or lower (STYLE §1); kernels stay among themselves."""
    if top(imp.importer) != "autograd_core" or top(imp.target) != "autograd_core":
        return []
    if imp.importer.startswith(KERNELS) and not imp.target.startswith(KERNELS):
        return [f"{imp.importer}:{imp.line} imports {imp.target}: kernels/ may import only "
                "numpy, numba, the standard library and other kernels"]
    src, dst = core_layer(imp.importer), core_layer(imp.target)
    if src is None or dst is None:
        unknown = imp.importer if src is None else imp.target
        return [f"{unknown} has no layer in CORE_LAYERS (tests/test_architecture.py): "
                "place it in STYLE §1's layering"]
    if dst > src and (imp.importer, imp.target) not in CORE_UPWARD_EXCEPTIONS:
        return [f"{imp.importer}:{imp.line} (layer {src}) imports {imp.target} (layer {dst}): "
                "a core module may import only from its own layer or a lower one"]
    return []


def third_party_violations(imp: Import) -> list[str]:
    """The core depends on numpy and numba only (and the standard library)."""
    if top(imp.importer) != "autograd_core":
        return []
    name = top(imp.target)
    if name in PACKAGES or name in CORE_THIRD_PARTY or name in sys.stdlib_module_names \
            or name == "__future__":
        return []
    return [f"{imp.importer}:{imp.line} imports {imp.target}: the core may depend only on "
            f"{', '.join(sorted(CORE_THIRD_PARTY))} and the standard library"]


CHECKERS = (arrow_violations, private_violations, layer_violations, third_party_violations)


def violations(module: str, source: str, is_package: bool = False,
               known: frozenset = KNOWN) -> list[str]:
    found = []
    for imp in imports_of(module, source, is_package, known):
        for check in CHECKERS:
            found += check(imp)
    return found + private_attribute_violations(module, source)


# --- the recursion checkers ---------------------------------------------------------------------
def _functions(tree: ast.Module) -> dict[str, tuple[ast.AST, str | None]]:
    """Module functions and methods: qualified name → (node, class name or None)."""
    result = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            result[node.name] = (node, None)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    result[f"{node.name}.{item.name}"] = (item, node.name)
    return result


def _callees(fn: ast.AST, cls: str | None, defined: set[str]) -> set[str]:
    """Functions of the same module that ``fn`` calls (plain names, self./cls./Class. calls)."""
    called = set()
    for node in ast.walk(fn):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        if isinstance(f, ast.Name) and f.id in defined:
            called.add(f.id)
        elif isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
            owner = cls if f.value.id in ("self", "cls") else f.value.id
            if f"{owner}.{f.attr}" in defined:
                called.add(f"{owner}.{f.attr}")
    return called


def self_calls(module: str, source: str, exceptions=SELF_CALL_EXCEPTIONS) -> list[str]:
    """Functions (also nested ones) whose body calls the function itself."""
    found = []
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            methods = [m for m in node.body if isinstance(m, (ast.FunctionDef,
                                                               ast.AsyncFunctionDef))]
            for m in methods:
                if f"{node.name}.{m.name}" in _callees(m, node.name, {f"{node.name}.{m.name}"}):
                    found.append(f"{module}.{node.name}.{m.name}")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if node.name in _callees(node, None, {node.name}) and \
                    (module, node.name) not in exceptions:
                found.append(f"{module}.{node.name}")
    return sorted(set(found))


def call_cycles(module: str, source: str, exceptions=CALL_CYCLE_EXCEPTIONS
                ) -> list[frozenset[str]]:
    """Groups of module functions that reach themselves through each other (found without
    recursion: a breadth-first search from every function)."""
    functions = _functions(ast.parse(source))
    defined = set(functions)
    graph = {name: _callees(node, cls, defined) for name, (node, cls) in functions.items()}
    cycles = set()
    for start in graph:
        seen, frontier = set(), list(graph[start])
        while frontier:
            name = frontier.pop()
            if name not in seen:
                seen.add(name)
                frontier.extend(graph[name])
        if start in seen:
            members = frozenset(n for n in seen if start in _reachable(graph, n))
            if len(members) > 1 and (module, members) not in exceptions:
                cycles.add(members)
    return sorted(cycles, key=sorted)


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, frontier = set(), list(graph[start])
    while frontier:
        name = frontier.pop()
        if name not in seen:
            seen.add(name)
            frontier.extend(graph[name])
    return seen


# --- the tests on the real code ------------------------------------------------------------------
def test_the_packages_are_found():
    names = {m.name for m in MODULES}
    assert {"autograd_core", "autograd_core.tensor", "autograd_core.graph.engine",
            "autograd_core.graph.walk", "autograd_core.ops._op", "nn", "optim", "viz"} <= names


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.name)
def test_import_arrows_layers_and_private_names(module):
    found = violations(module.name, module.path.read_text(encoding="utf-8"), module.is_package)
    assert not found, "\n".join(found)


def test_every_core_module_has_a_layer():
    missing = [m.name for m in MODULES if top(m.name) == "autograd_core"
               and core_layer(m.name) is None]
    assert not missing, f"add these to CORE_LAYERS (STYLE §1): {missing}"


def test_the_documented_exceptions_are_still_needed():
    """An exception that no longer matches any import must be removed from the tables."""
    arrows = {(imp.importer, imp.target) for m in MODULES
              for imp in imports_of(m.name, m.path.read_text(encoding="utf-8"), m.is_package)}
    stale = [pair for pair in CORE_UPWARD_EXCEPTIONS if pair not in arrows]
    assert not stale, f"remove from CORE_UPWARD_EXCEPTIONS: {stale}"
    sources = {m.name: m.path.read_text(encoding="utf-8") for m in MODULES}
    for module, function in SELF_CALL_EXCEPTIONS:
        assert f"{module}.{function}" in self_calls(module, sources[module], exceptions={}), \
            f"remove {function} from SELF_CALL_EXCEPTIONS"
    for module, members in CALL_CYCLE_EXCEPTIONS:
        assert members in call_cycles(module, sources[module], exceptions={}), \
            f"remove {sorted(members)} from CALL_CYCLE_EXCEPTIONS"


@pytest.mark.parametrize("module", [m for m in MODULES if top(m.name) == "autograd_core"],
                         ids=lambda m: m.name)
def test_no_core_function_calls_itself(module):
    source = module.path.read_text(encoding="utf-8")
    assert not self_calls(module.name, source), "graph walks must be iterative (STYLE R5)"
    assert not call_cycles(module.name, source), "graph walks must be iterative (STYLE R5)"


def test_graph_package_has_no_recursion_at_all():
    graph_modules = [m for m in MODULES if m.name.startswith("autograd_core.graph")]
    assert len(graph_modules) >= 4
    for module in graph_modules:
        source = module.path.read_text(encoding="utf-8")
        # no exception applies inside graph/: the tables must not name a graph module
        assert not [k for k in SELF_CALL_EXCEPTIONS if k[0] == module.name]
        assert not [k for k in CALL_CYCLE_EXCEPTIONS if k[0] == module.name]
        assert not self_calls(module.name, source) and not call_cycles(module.name, source)


# --- the checkers can fail ----------------------------------------------------------------------
SYNTHETIC_KNOWN = KNOWN | {"autograd_core.graph.engine", "viz.render"}


@pytest.mark.parametrize("module, source, expected", [
    ("nn.layers", "import viz\n", "nn must not import viz"),
    ("nn.layers", "from optim import SGD\n", "nn must not import optim"),
    ("optim.sgd", "from viz.render import draw\n", "optim must not import viz"),
    ("optim.sgd", "from nn import Module\n", "only optim.training, optim.compile may import nn"),
    ("autograd_core.tensor", "import nn\n", "autograd_core must not import nn"),
    ("autograd_core.checks", "def f():\n    import viz\n", "autograd_core must not import viz"),
    ("nn.module", "from autograd_core.ops._op import Op\n", "private _op"),
    ("viz.graph_model", "import autograd_core._impl as impl\n", "private _impl"),
    ("nn.module", "from autograd_core.grad_mode import _State\n", "private _State"),
    ("nn.module", "import autograd_core as ag\nOp = ag.ops._op.Op\n", "private ag.ops._op"),
    ("autograd_core.kernels.elementwise", "from ..tensor import Tensor\n",
     "kernels/ may import only"),
    ("autograd_core.dtypes", "from .graph import engine\n",
     "(layer 1) imports autograd_core.graph.engine (layer 4)"),
    ("autograd_core.graph.walk", "from ..tensor import Tensor\n",
     "(layer 1) imports autograd_core.tensor (layer 3)"),
    ("autograd_core.graph.node", "from . import engine\n", "(layer 2) imports"),
    ("autograd_core.ops.shape", "from ..checks import gradcheck\n", "(layer 3) imports"),
    ("autograd_core.kernels.matmul", "import scipy.linalg\n", "may depend only on numba, numpy"),
    ("autograd_core.brand_new", "from .tensor import Tensor\n", "has no layer"),
])
def test_import_checker_catches_forbidden_imports(module, source, expected):
    is_package = False
    found = violations(module, source, is_package, SYNTHETIC_KNOWN)
    assert any(expected in v for v in found), found


@pytest.mark.parametrize("module, source", [
    ("optim.training", "from nn import Module\nfrom nn.losses import MSELoss\n"),
    ("viz.graph_model", "import nn\nfrom autograd_core.graph.walk import topological_order\n"),
    ("nn.module", "from autograd_core import Op, Tensor\nimport autograd_core as ag\n"
                  "x = ag.tensor([1.0]).__class__\n"),
    ("autograd_core.ops.activations", "import numpy as np\nfrom ._op import Op\n"
                                      "from ..graph.rules import InverseRule\n"),
    ("autograd_core.kernels.elementwise", "import os\nimport numba\nfrom ._kernel import K\n"),
    ("autograd_core.graph.engine", "from .. import ops\nfrom .walk import topological_order\n"),
])
def test_import_checker_accepts_allowed_imports(module, source):
    assert violations(module, source, False, SYNTHETIC_KNOWN) == []


def test_relative_imports_are_resolved():
    found = imports_of("autograd_core.ops.shape", "from ..graph.rules import R\nfrom . import _op\n"
                       "from .elementwise import exp\n", known=KNOWN)
    targets = {imp.target for imp in found}
    assert targets == {"autograd_core.graph.rules", "autograd_core.ops._op",
                       "autograd_core.ops.elementwise"}
    found = imports_of("autograd_core.ops", "from . import shape\n", is_package=True, known=KNOWN)
    assert "autograd_core.ops.shape" in {imp.target for imp in found}


@pytest.mark.parametrize("source", [
    "def visit(node):\n    for p in node.parents():\n        visit(p)\n",
    "def outer(n):\n    def visit(m):\n        return [visit(p) for p in m.parents()]\n"
    "    return visit(n)\n",
    "class Walker:\n    def walk(self, node):\n        for p in node.parents():\n"
    "            self.walk(p)\n",
])
def test_recursion_checker_catches_a_recursive_walk(source):
    assert self_calls("autograd_core.graph.walk", source)


def test_recursion_checker_catches_mutual_recursion():
    source = ("def a(n):\n    return b(n.parent)\n\n"
              "def b(n):\n    return a(n.parent) if n else 0\n\n"
              "def c(n):\n    return a(n)\n")
    assert call_cycles("autograd_core.graph.walk", source) == [frozenset({"a", "b"})]
    assert self_calls("autograd_core.graph.walk", source) == []


def test_recursion_checker_accepts_an_iterative_walk():
    source = ("def walk(roots):\n    stack = list(roots)\n    while stack:\n"
              "        node = stack.pop()\n        stack.extend(node.parents())\n"
              "        yield node\n")
    assert self_calls("autograd_core.graph.walk", source) == []
    assert call_cycles("autograd_core.graph.walk", source) == []


# --- a 20,000-deep graph ------------------------------------------------------------------------
DEPTH = 20_000


def deep_chain(depth: int = DEPTH):
    x = ag.tensor(1.0, dtype=np.float64, requires_grad=True)
    y = x
    for _ in range(depth):
        y = y * 1.0001
    return x, y


def test_the_deep_chain_is_deeper_than_the_recursion_limit():
    assert DEPTH > 10 * sys.getrecursionlimit()


def test_backward_through_a_20000_deep_chain():
    x, y = deep_chain()
    nodes = list(topological_order([y.grad_fn]))
    assert len(nodes) == DEPTH
    y.backward()
    assert x.grad.item() == pytest.approx(1.0001 ** DEPTH, rel=1e-9)
    assert all(node.released for node in nodes)           # freed by the backward itself
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_grad_and_retained_graph_then_release_on_a_20000_deep_chain():
    x, y = deep_chain()
    (g,) = ag.grad(y, x, retain_graph=True)
    assert g.item() == pytest.approx(1.0001 ** DEPTH, rel=1e-9)
    y.backward(retain_graph=True)
    nodes = list(topological_order([y.grad_fn]))
    assert not any(node.released for node in nodes)
    for node in nodes:
        node.release()
    assert all(node.released and node.inputs == () for node in nodes)
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_a_20000_deep_chain_is_freed_when_dropped():
    x, y = deep_chain()
    middle = weakref.ref(y.grad_fn.inputs[0])
    y.backward()
    del y
    assert middle() is None
    assert x.grad is not None
