"""``nn.save(obj, path)`` / ``nn.load(path)``: state dicts and optimizer state, without pickle.

The file is one ``.npz`` archive: every array is stored as its own ``.npy`` entry, and one more
entry, ``__neurona__``, holds the structure as JSON: dicts (with str/int/float/bool/None keys),
lists, tuples, numbers, strings, None, and references to the arrays (Tensors remember that they
were Tensors and whether they required grad). It is read back with ``allow_pickle=False``, so
loading a file never runs code, and it is checked entirely before anything is returned: a
truncated, corrupted or foreign file raises ``ValueError``. Besides the zip format's CRC of each
entry, the archive's comment holds a SHA-256 of every byte before it, so damage anywhere in the
file (headers and directory included) is detected.

>>> import os, tempfile, numpy as np
>>> path = os.path.join(tempfile.mkdtemp(), "state.npz")
>>> save({"w": np.arange(3.0), "step": 7, "betas": (0.9, 0.999)}, path)
>>> load(path)
{'w': array([0., 1., 2.]), 'step': 7, 'betas': (0.9, 0.999)}
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import os
import tempfile
import struct
import zipfile
import zlib

import numpy as np

from autograd_core import Tensor

from . import safetensors_io

FORMAT = "neurona.save"
VERSION = 1
STRUCTURE_KEY = "__neurona__"
_SCALARS = (str, int, float, bool, type(None))
_DIGEST_PREFIX = b"neurona-sha256:"
_COMMENT_SIZE = len(_DIGEST_PREFIX) + 64


def _encode(obj, arrays: dict, where: str):
    """The JSON tree for ``obj``; arrays are moved into ``arrays`` and referenced by name."""
    if isinstance(obj, _SCALARS):
        if isinstance(obj, float) and not math.isfinite(obj):
            return {"float": repr(obj)}           # NOTE: JSON has no nan/inf; keep them exactly
        return obj
    if isinstance(obj, Tensor):
        name = f"a{len(arrays)}"
        arrays[name] = obj.data
        return {"tensor": name, "requires_grad": obj.requires_grad}
    if isinstance(obj, (np.ndarray, np.generic)):
        array = np.asarray(obj)
        if array.dtype.hasobject:
            raise TypeError(f"save: {where} is an object array, which cannot be saved without "
                            "pickle")
        name = f"a{len(arrays)}"
        arrays[name] = array
        return {"array" if isinstance(obj, np.ndarray) else "scalar": name}
    if isinstance(obj, dict):
        items = []
        for key, value in obj.items():
            if not isinstance(key, _SCALARS):
                raise TypeError(f"save: {where} has a key of type {type(key).__name__}; keys "
                                "must be str, int, float, bool or None")
            items.append([_encode(key, arrays, where), _encode(value, arrays, f"{where}[{key!r}]")])
        return {"dict": items}
    if isinstance(obj, (list, tuple)):
        kind = "list" if isinstance(obj, list) else "tuple"
        return {kind: [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(obj)]}
    raise TypeError(f"save: {where} is a {type(obj).__name__}, which cannot be saved; expected "
                    "arrays, Tensors, numbers, strings, None, and dicts/lists/tuples of them")


def _format(path, format: str | None) -> str:
    """``format``, or the one the suffix names: ``.safetensors`` → safetensors, else npz."""
    if format is None:
        return "safetensors" if os.fspath(path).endswith(".safetensors") else "npz"
    if format not in ("npz", "safetensors"):
        raise ValueError(f"save/load: format must be 'npz' or 'safetensors', got {format!r}")
    return format


def save(obj, path: str | os.PathLike, *, format: str | None = None) -> None:
    """Write ``obj`` (e.g. ``model.state_dict()``, ``optimizer.state_dict()``) to ``path``
    (the name is used as given; ``.npz`` is the natural extension).

    ``format="safetensors"`` (chosen by a ``.safetensors`` suffix) writes a flat state dict in
    the format PyTorch opens (see ``nn.safetensors_io``); optimizer state stays in this one."""
    if _format(path, format) == "safetensors":
        return safetensors_io.save(obj, path)
    arrays: dict[str, np.ndarray] = {}
    tree = _encode(obj, arrays, "obj")
    header = json.dumps({"format": FORMAT, "version": VERSION, "root": tree}, allow_nan=False)
    _write_archive(path, {**arrays, STRUCTURE_KEY: np.array(header)})


def _write_archive(path, arrays: dict[str, np.ndarray]) -> None:
    """An .npz of ``arrays`` whose zip comment is the SHA-256 of the bytes before it; written to
    a temporary file and renamed, so an interrupted save never leaves half a file at ``path``."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.comment = b"0" * _COMMENT_SIZE                  # placeholder of the final size
    data = bytearray(buffer.getvalue())
    digest = hashlib.sha256(data[:-_COMMENT_SIZE]).hexdigest().encode()
    data[-_COMMENT_SIZE:] = _DIGEST_PREFIX + digest
    path = os.fspath(path)
    fd, tmp = tempfile.mkstemp(prefix=".neurona-", suffix=".tmp",
                               dir=os.path.dirname(os.path.abspath(path)))
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


class _Decoder:
    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays, self.used = arrays, set()

    def array(self, name) -> np.ndarray:
        if not isinstance(name, str) or name not in self.arrays:
            raise ValueError(f"the structure refers to an array {name!r} that is not in the file")
        if name in self.used:
            raise ValueError(f"array {name!r} is referenced twice")
        self.used.add(name)
        return self.arrays[name]

    def decode(self, node):
        if isinstance(node, _SCALARS):
            return node
        if isinstance(node, dict) and len(node) >= 1:
            tag = next(iter(node))
            value = node[tag]
            if tag == "dict" and len(node) == 1 and isinstance(value, list):
                out = {}
                for pair in value:
                    if not (isinstance(pair, list) and len(pair) == 2):
                        raise ValueError("a dict entry is not a [key, value] pair")
                    key = self.decode(pair[0])
                    if not isinstance(key, _SCALARS):
                        raise ValueError(f"a dict key decodes to a {type(key).__name__}")
                    out[key] = self.decode(pair[1])
                return out
            if tag in ("list", "tuple") and len(node) == 1 and isinstance(value, list):
                items = [self.decode(v) for v in value]
                return items if tag == "list" else tuple(items)
            if tag == "array" and len(node) == 1:
                return self.array(value)
            if tag == "scalar" and len(node) == 1:
                array = self.array(value)
                if array.ndim != 0:
                    raise ValueError(f"scalar {value!r} has shape {array.shape}")
                return array[()]
            if tag == "tensor" and set(node) == {"tensor", "requires_grad"}:
                requires_grad = node["requires_grad"]
                if not isinstance(requires_grad, bool):
                    raise ValueError("a tensor's requires_grad is not a boolean")
                return Tensor(self.array(value), requires_grad=requires_grad)
            if tag == "float" and len(node) == 1 and value in ("nan", "inf", "-inf"):
                return float(value)
        raise ValueError(f"unexpected entry in the structure: {str(node)[:80]}")


def _read(path: str) -> tuple[dict, dict[str, np.ndarray]]:
    """Read every entry of the archive (CRC-checked) and parse the header."""
    with open(path, "rb") as file:
        data = file.read()
    if not data.startswith(b"PK\x03\x04"):
        raise ValueError("it is not an .npz (zip) archive")
    comment = data[-_COMMENT_SIZE:]
    if not comment.startswith(_DIGEST_PREFIX):
        raise ValueError("it has no neurona checksum at its end (not written by nn.save, or "
                         "truncated)")
    expected = comment[len(_DIGEST_PREFIX):]
    if hashlib.sha256(data[:-_COMMENT_SIZE]).hexdigest().encode() != expected:
        raise ValueError("its SHA-256 checksum does not match its contents")
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        names = list(archive.files)
        if STRUCTURE_KEY not in names:
            raise ValueError(f"it has no {STRUCTURE_KEY!r} entry (not written by nn.save)")
        arrays = {name: archive[name] for name in names}
    text = arrays.pop(STRUCTURE_KEY)
    if text.dtype.kind != "U" or text.ndim != 0:
        raise ValueError(f"its {STRUCTURE_KEY!r} entry is not a JSON string")
    header = json.loads(str(text))
    if not isinstance(header, dict) or header.get("format") != FORMAT or "root" not in header:
        raise ValueError("its header does not describe a neurona file")
    if header.get("version") != VERSION:
        raise ValueError(f"it has format version {header.get('version')!r}; this neurona reads "
                         f"version {VERSION}")
    return header, arrays


def load(path: str | os.PathLike, *, format: str | None = None):
    """Read what ``save`` wrote. Arrays come back as numpy arrays with their dtype (Tensors as
    Tensors), tuples as tuples, dict keys with their types. A safetensors file (``.safetensors``
    suffix or ``format="safetensors"``) comes back as an ordered dict of name → array.

    Raises ``ValueError`` naming the file when it is truncated, corrupted or not a neurona file;
    nothing is returned in that case. Loading never unpickles, so it never runs code.
    """
    if _format(path, format) == "safetensors":
        return safetensors_io.load(path)
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load: no such file: {path!r}")
    try:
        header, arrays = _read(path)
        decoder = _Decoder(arrays)
        result = decoder.decode(header["root"])
        extra = sorted(set(arrays) - decoder.used)
        if extra:
            raise ValueError(f"it holds arrays the structure does not mention: {extra[:5]}")
    # NOTE: numpy, zipfile, zlib and json report damaged files with many exception types;
    # every one of them means the same thing here: this file cannot be trusted.
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, UnicodeError,
            RecursionError, SyntaxError, TypeError, NotImplementedError, MemoryError,
            struct.error, zlib.error) as error:
        raise ValueError(f"load: {path!r} is not a valid neurona file (truncated, corrupted or "
                         f"written by something else): {type(error).__name__}: {error}") from error
    return result
