"""How ``compile_step`` has Numba compile a generated step (imported only when one is compiled).

Numba links the kernels a function calls into that function's library, then runs LLVM's whole
O3 module pipeline over the result: every kernel, already optimized in its own library, is
optimized again for every step that calls it (on the 2-8-8-1 net, 1.3 s of a 5 s compile). A
step is glue — views of its work buffer, kernel calls, a loss's short loops — and Numba's
per-function passes have optimized that glue before the kernels are linked in. So the step's
library runs only the cheap module passes: inlining of what must be inlined (numpy's ufunc
loop bodies) and pruning of reference counts. The kernels keep the code of their own O3 pass.
"""
from __future__ import annotations

import functools

from numba.core import compiler, compiler_machinery, typed_passes


def _cheap_module_passes(library) -> None:
    """Numba's first (cheap) module pass alone, in place of its full O3 re-optimization."""
    manager, builder = library._codegen._module_pass_manager(
        loop_vectorize=False, slp_vectorize=False, opt=0, cost="cheap")
    manager.run(library._final_module, builder)


@compiler_machinery.register_pass(mutates_CFG=False, analysis_only=True)
class OptimizeStepOnce(compiler_machinery.AnalysisPass):
    """Gives the step's own code library the cheap module passes (see the module docstring).

    It creates the library as Numba's lowering pass would, then replaces that one library's
    final-module optimization; other libraries, and Numba's settings, are untouched.
    """

    _name = "neurona_optimize_step_once"

    def __init__(self) -> None:
        compiler_machinery.AnalysisPass.__init__(self)

    def run_pass(self, state) -> bool:
        if state.library is None:
            state.library = state.targetctx.codegen().create_library(state.func_id.func_qualname)
            state.library.enable_object_caching()
        # NOTE: a private hook of Numba's CPU code library; in a Numba without it the step is
        # compiled as any function is (slower to compile, same code)
        if hasattr(state.library, "_optimize_final_module"):
            state.library._optimize_final_module = functools.partial(_cheap_module_passes,
                                                                     state.library)
        return False


class StepCompiler(compiler.CompilerBase):
    """Numba's nopython pipeline with ``OptimizeStepOnce`` before lowering."""

    def define_pipelines(self):
        manager = compiler.DefaultPassBuilder.define_nopython_pipeline(self.state)
        manager.add_pass_after(OptimizeStepOnce, typed_passes.NopythonTypeInference)
        manager.finalize()
        return [manager]
