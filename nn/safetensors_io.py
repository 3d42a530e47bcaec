"""Weights in the safetensors format, which PyTorch (and the Hugging Face tools) open directly.

A safetensors file is an 8-byte little-endian header length N, N bytes of JSON naming each tensor
with its dtype, shape and byte range, then the raw little-endian bytes. It holds flat tensors and
nothing else, so reading it never runs code (unlike a pickled ``torch.save`` file).

neurona's state-dict key names and layouts are PyTorch's (``0.weight``/``0.bias`` for an
``nn.Sequential``; ``Linear.weight`` of shape (out_features, in_features); BatchNorm's
``running_mean``/``running_var``/``num_batches_tracked``), so a file written here loads with
``torch_model.load_state_dict(safetensors.torch.load_file(path))`` and the reverse with
``model.from_torch_state_dict(path)``. Optimizer state is not a flat set of tensors (param groups,
hyperparameters, step counts): it stays in neurona's own format (``nn.save(opt.state_dict(),
"opt.npz")``: JSON structure + arrays).

>>> import os, tempfile, numpy as np
>>> path = os.path.join(tempfile.mkdtemp(), "w.safetensors")
>>> save({"0.weight": np.ones((2, 3), np.float32)}, path)
>>> load(path)["0.weight"].shape
(2, 3)
"""
from __future__ import annotations

import json
import os
import struct
import tempfile
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np

from autograd_core import Tensor

#: headers longer than this are refused before anything else is read (a real one lists each
#: tensor in about 100 bytes: 8 MiB is ~80,000 tensors; the safetensors library allows 100 MB)
MAX_HEADER_BYTES = 8 * 2**20

#: safetensors dtype names numpy can hold
_DTYPES = {"F64", "F32", "F16", "I64", "U64", "I32", "U32", "I16", "U16", "I8", "U8", "BOOL"}

METADATA = {"format": "pt"}   # what transformers' loaders look for in a PyTorch checkpoint


def _flat_arrays(obj) -> OrderedDict[str, np.ndarray]:
    """A module or a flat name → array/Tensor mapping as contiguous little-endian arrays."""
    if hasattr(obj, "state_dict") and callable(obj.state_dict) and not isinstance(obj, Mapping):
        obj = obj.state_dict()
    if not isinstance(obj, Mapping):
        raise TypeError(f"save: safetensors holds a flat dict of arrays (e.g. "
                        f"model.state_dict()), got {type(obj).__name__}")
    arrays: OrderedDict[str, np.ndarray] = OrderedDict()
    for name, value in obj.items():
        if not isinstance(name, str):
            raise TypeError(f"save: safetensors keys must be str, got {name!r}")
        if isinstance(value, Tensor):
            value = value.data
        if not isinstance(value, (np.ndarray, np.generic)):
            raise TypeError(
                f"save: {name!r} is a {type(value).__name__}; safetensors holds only arrays. "
                "Optimizer state and other nested structures stay in neurona's own format: "
                "save them to an .npz path")
        # NOTE: the writer reads raw memory, so no strides (np.ascontiguousarray would make a
        # 0-d array, such as num_batches_tracked, 1-d)
        array = np.require(value, requirements="C")
        if array.dtype.kind not in "biuf" or array.dtype.itemsize > 8:
            raise TypeError(f"save: {name!r} has dtype {array.dtype}, which safetensors cannot "
                            "hold (expected bool, int, uint or float up to 64 bits)")
        arrays[name] = array.astype(array.dtype.newbyteorder("<"), copy=False)
    return arrays


def save(obj, path: str | os.PathLike, metadata: Mapping[str, str] | None = None) -> None:
    """Write a state dict (or a module's) to ``path`` as safetensors, atomically (temporary
    file + rename, so an interrupted save leaves the old file or none). ``metadata`` adds
    str → str entries to the header's ``__metadata__`` (``format: pt`` is always set)."""
    from safetensors.numpy import save as serialize

    arrays = _flat_arrays(obj)
    extra = dict(metadata or {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in extra.items()):
        raise TypeError("save: safetensors metadata must map str to str")
    payload = serialize(dict(arrays), metadata={**extra, **METADATA})
    path = os.fspath(path)
    fd, tmp = tempfile.mkstemp(prefix=".neurona-", suffix=".tmp",
                               dir=os.path.dirname(os.path.abspath(path)))
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(payload)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _header(data: bytes) -> dict:
    """The JSON header, after checking its declared length against the limit and the file."""
    if len(data) < 8:
        raise ValueError(f"it has {len(data)} bytes, fewer than the 8-byte header length")
    (size,) = struct.unpack("<Q", data[:8])
    if size > MAX_HEADER_BYTES:
        raise ValueError(f"its header claims {size} bytes, more than the {MAX_HEADER_BYTES} "
                         "allowed (nn.safetensors_io.MAX_HEADER_BYTES)")
    if 8 + size > len(data):
        raise ValueError(f"its header claims {size} bytes but the file has only {len(data) - 8} "
                         "after the length (truncated)")
    header = json.loads(data[8:8 + size].decode("utf-8"))
    if not isinstance(header, dict):
        raise ValueError("its header is not a JSON object")
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        dtype = entry.get("dtype") if isinstance(entry, dict) else None
        if dtype not in _DTYPES:
            hint = " (convert it to float32 in PyTorch first: model.float())" \
                if dtype in ("BF16", "F8_E4M3", "F8_E5M2") else ""
            raise ValueError(f"tensor {name!r} has dtype {dtype!r}, which numpy cannot hold{hint}")
    return header


def load(path: str | os.PathLike) -> OrderedDict[str, np.ndarray]:
    """Read a safetensors file into name → numpy array (writable copies, in the header's order).

    The whole file is validated (header size and JSON, dtypes, every byte range inside the data
    and covering it) before anything is returned; otherwise ``ValueError`` names the file.
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load as deserialize

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load: no such file: {path!r}")
    with open(path, "rb") as file:
        data = file.read()
    try:
        header = _header(data)
        arrays = deserialize(data)
    except (ValueError, UnicodeError, SafetensorError, KeyError, OverflowError) as error:
        raise ValueError(f"load: {path!r} is not a valid safetensors file (truncated, corrupted "
                         f"or oversized header): {type(error).__name__}: {error}") from error
    order = [name for name in header if name != "__metadata__"]
    return OrderedDict((name, np.array(arrays[name])) for name in order)


def metadata(path: str | os.PathLike) -> dict[str, str]:
    """The header's ``__metadata__`` (str → str), e.g. ``{"format": "pt"}``."""
    with open(os.fspath(path), "rb") as file:
        head = file.read(8)
        size = struct.unpack("<Q", head)[0] if len(head) == 8 else 0
        data = head + file.read(min(size, MAX_HEADER_BYTES + 1))
    try:
        return dict(_header(data).get("__metadata__") or {})
    except (ValueError, UnicodeError) as error:
        raise ValueError(f"metadata: {os.fspath(path)!r} is not a valid safetensors file: "
                         f"{error}") from error


def torch_state_to_arrays(source) -> Mapping[str, np.ndarray]:
    """A safetensors path, or a mapping of name → array/Tensor/``torch.Tensor``, as arrays.

    torch tensors are recognised by their ``detach``/``cpu``/``numpy`` methods, so torch is never
    imported here."""
    if isinstance(source, (str, os.PathLike)):
        return load(source)
    if not isinstance(source, Mapping):
        raise TypeError(f"from_torch_state_dict: expected a .safetensors path or a dict of "
                        f"tensors, got {type(source).__name__}")
    arrays = OrderedDict()
    for name, value in source.items():
        if all(hasattr(value, m) for m in ("detach", "cpu", "numpy")):
            value = value.detach().cpu().numpy()
        arrays[name] = value.data if isinstance(value, Tensor) else np.asarray(value)
    return arrays
