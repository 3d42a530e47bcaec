"""A recorded operation: the op's context during forward and backward.

The node is what an output tensor's ``grad_fn`` points to. It holds the op class, the input
tensors, the non-tensor arguments, a *weak* reference to its output (so the graph has no reference
cycles and CPython frees it by reference counting alone), the input versions seen at forward time
(to detect in-place changes), and whatever extra values the op's forward stored on it as
attributes (``ctx.mask = ...``). ``release()`` drops all of that after backward.
"""
from __future__ import annotations

import weakref
from collections.abc import Mapping

#: the saved versions of 0…7 never-modified tensors (see Node.attach)
_ZEROS = tuple((0,) * n for n in range(8))


class Node:
    """The context of one op application (``ctx`` in forward/backward)."""

    # NOTE: slots for what every node has; extra values an op stores go to the instance dict,
    # which Python creates only when the first one is set
    __slots__ = ("op", "inputs", "kwargs", "released", "creation_trace", "_output_ref",
                 "saved_versions", "__dict__", "__weakref__")

    def __init__(self, op, inputs: tuple, kwargs: Mapping) -> None:
        self.op = op
        self.inputs = inputs
        self.kwargs = kwargs
        self.released = False
        self.creation_trace = None
        self._output_ref = None
        self.saved_versions = None

    # --- what forward/backward read ----------------------------------------------------------
    @property
    def output(self):
        """The output Tensor (alive whenever backward can reach this node)."""
        out = self._output_ref() if self._output_ref is not None else None
        if out is None:
            raise RuntimeError(f"{self.op.name}: the output of this node is no longer alive")
        return out

    @property
    def needs_input_grad(self) -> tuple[bool, ...]:
        """For each input, whether backward must produce its gradient."""
        return tuple([t._requires_grad for t in self.inputs])

    # --- graph structure ---------------------------------------------------------------------
    def parents(self):
        """The nodes that produced this node's inputs, once per edge (for graph.walk)."""
        return [t._node for t in self.inputs if t._node is not None and t._requires_grad]

    def name(self) -> str:
        """``MulBackward``: the name PyTorch users know from ``grad_fn``."""
        return f"{self.op.__name__}Backward"

    def attach(self, output) -> None:
        """Link this node to its output tensor (weakly) and record the versions of what it saved.

        ``saved_versions`` holds the versions at forward time of the inputs (when the op reads
        them in backward) followed by the output's (when it reads its output).
        """
        self._output_ref = weakref.ref(output)
        op = self.op
        if op.saves_inputs:
            saved = self.inputs + (output,) if op.saves_output else self.inputs
        elif op.saves_output:
            saved = (output,)
        else:
            return
        for t in saved:
            if t._version_box is not None:
                self.saved_versions = tuple([t._version for t in saved])
                return
        # NOTE: a tensor without a version box was never modified in place (version 0): the
        # usual case. Sharing one tuple of zeros spares an allocation and a GC-tracked object
        # per node
        n = len(saved)
        self.saved_versions = _ZEROS[n] if n < len(_ZEROS) else (0,) * n

    def check_versions(self) -> None:
        """Raise if a tensor this op saved for backward was modified in place since forward."""
        op, seen = self.op, self.saved_versions
        if op.saves_inputs:
            for index, t in enumerate(self.inputs):
                if t._version != seen[index]:
                    raise _modified_error(op.name, f"input {index}", t, seen[index])
        if op.saves_output:
            out = self.output
            if out._version != seen[-1]:
                raise _modified_error(op.name, "its output", out, seen[-1])

    def release(self) -> None:
        """Free what the node holds for backward (inputs and saved values); keep its identity."""
        self.__dict__.clear()
        self.inputs = ()
        self.saved_versions = None
        self.released = True

    def __repr__(self) -> str:
        return f"<{self.name()}>"


def _modified_error(op_name: str, which: str, tensor, seen: int) -> RuntimeError:
    return RuntimeError(
        f"{op_name}: {which} (shape {tensor.shape}, {tensor.dtype}), saved for backward, was "
        f"modified in place: it is at version {tensor._version}, backward needs version "
        f"{seen}. Make a copy (.clone()) before modifying it, or run the modification after "
        f"backward.")
