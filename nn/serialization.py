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

import contextlib
import hashlib
import io
import json
import math
import os
import secrets
import stat
import struct
import time
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


#: containers nested deeper than this are refused (a state dict is a few levels deep)
MAX_DEPTH = 100


def _encode(obj, arrays: dict, where: str, inside: tuple = ()):
    """The JSON tree for ``obj``; arrays are moved into ``arrays`` and referenced by name.
    ``inside`` holds the ids of the containers ``obj`` sits in, to refuse a cycle."""
    if isinstance(obj, (dict, list, tuple)):
        if id(obj) in inside:
            raise ValueError(f"save: {where} is a container it sits in (a reference cycle), "
                             "which cannot be saved")
        if len(inside) >= MAX_DEPTH:
            raise ValueError(f"save: obj is nested more than {MAX_DEPTH} levels deep (at "
                             f"{where[:80]}…)")
        inside = (*inside, id(obj))
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
            items.append([_encode(key, arrays, where),
                          _encode(value, arrays, f"{where}[{key!r}]", inside)])
        return {"dict": items}
    if isinstance(obj, (list, tuple)):
        kind = "list" if isinstance(obj, list) else "tuple"
        return {kind: [_encode(v, arrays, f"{where}[{i}]", inside) for i, v in enumerate(obj)]}
    raise TypeError(f"save: {where} is a {type(obj).__name__}, which cannot be saved; expected "
                    "arrays, Tensors, numbers, strings, None, and dicts/lists/tuples of them")


def _format(path, format: str | None) -> str:
    """``format``, or the one the suffix names: ``.safetensors`` → safetensors, else npz."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"save/load: the path must be a str or os.PathLike, got "
                        f"{type(path).__name__}")
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
    """An .npz of ``arrays`` whose zip comment is the SHA-256 of the bytes before it, written
    atomically to ``path`` (see ``write_atomic``)."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.comment = b"0" * _COMMENT_SIZE                  # placeholder of the final size
    data = bytearray(buffer.getvalue())
    digest = hashlib.sha256(data[:-_COMMENT_SIZE]).hexdigest().encode()
    data[-_COMMENT_SIZE:] = _DIGEST_PREFIX + digest
    write_atomic(path, data)


_TMP_SUFFIX = ".neurona-tmp"
#: a temporary file of a save whose process is gone, or older than this, is removed by the next
#: save into the same folder
_STALE_SECONDS = 24 * 3600


def write_atomic(path: str | os.PathLike, data: bytes, who: str = "save") -> None:
    """Write ``data`` to ``path`` so that ``path`` holds either its old content or all of the
    new one, whatever happens (Ctrl-C, an error, the process killed, a power cut).

    The bytes go to a temporary file beside the target, are flushed to disk (``fsync``), and the
    file is renamed over the target (atomic on POSIX and Windows), then the folder is synced.
    The new file gets the permissions ``open()`` would give (the umask's; an existing target's
    own mode is kept). A symlink is followed: its target is replaced, the link stays. Temporary
    files that a killed save left behind are removed.
    """
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"{who}: the path must be a str or os.PathLike, got "
                        f"{type(path).__name__}")
    target = _resolve_target(os.fsdecode(path), who)
    folder, name = os.path.split(target)
    _sweep_stale(folder, name)
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.{secrets.token_hex(4)}{_TMP_SUFFIX}")
    # NOTE: os.open with 0o666 lets the kernel apply the umask, as open()/np.savez do
    # (tempfile.mkstemp would force 0600)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        _keep_mode(target, tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    _sync_folder(folder)


def _resolve_target(path: str, who: str) -> str:
    """The file to replace: ``path`` with symlinks followed; its folder must exist."""
    target = os.path.realpath(path)
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{who}: cannot write {path!r}: the folder {folder!r} does not "
                                "exist (create it first, e.g. os.makedirs)")
    if os.path.isdir(target):
        raise IsADirectoryError(f"{who}: cannot write {path!r}: it is a folder")
    return target


def _keep_mode(target: str, tmp: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.chmod(tmp, stat.S_IMODE(os.stat(target).st_mode))


def _sync_folder(folder: str) -> None:
    """fsync the folder so the rename itself survives a power cut (POSIX; skipped elsewhere)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _sweep_stale(folder: str, name: str) -> None:
    """Remove ``.<name>.<pid>.<random>.neurona-tmp`` files whose writer process is gone (or that
    are older than a day): what a save killed between writing and renaming leaves."""
    prefix = f".{name}."
    try:
        entries = os.listdir(folder)
    except OSError:
        return
    for entry in entries:
        if not (entry.startswith(prefix) and entry.endswith(_TMP_SUFFIX)):
            continue
        pid = entry[len(prefix):-len(_TMP_SUFFIX)].split(".")[0]
        full = os.path.join(folder, entry)
        with contextlib.suppress(OSError, ValueError):
            old = time.time() - os.stat(full).st_mtime > _STALE_SECONDS
            if old or not _process_alive(int(pid)):
                os.remove(full)


def _process_alive(pid: int) -> bool:
    # NOTE: on Windows os.kill(pid, 0) would terminate the process: rely on the age there
    if pid == os.getpid() or os.name == "nt":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True                      # someone else's process, or no way to tell: keep it
    return True


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
    _check_entries(data)
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


def _check_entries(data: bytes) -> None:
    """Check every entry's sizes before anything is decompressed or allocated.

    NOTE: a checksum proves nothing against a forged file (anyone can compute SHA-256), and
    ``np.load`` allocates the array an ``.npy`` header declares before reading it. nn.save
    writes uncompressed entries, so each entry must be stored (no deflate bomb), hold exactly
    the bytes the zip directory says, lie inside the file, and its ``.npy`` header must declare
    an array of exactly that many bytes: then nothing bigger than the file is ever allocated.
    """
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            name = info.filename
            if info.compress_type != zipfile.ZIP_STORED:
                raise ValueError(f"entry {name!r} is compressed; nn.save writes uncompressed "
                                 "entries")
            if (info.file_size != info.compress_size
                    or info.header_offset + info.compress_size > len(data)):
                raise ValueError(f"entry {name!r} declares {info.file_size} bytes, which do not "
                                 f"fit in the file ({len(data)} bytes)")
            with archive.open(info) as member:
                need = _npy_bytes(member, name)
            if need != info.file_size:
                raise ValueError(f"entry {name!r}: its header declares an array of {need} bytes "
                                 f"with the header, but the entry holds {info.file_size}")


def _npy_bytes(member, name: str) -> int:
    """Size in bytes (header included) of the ``.npy`` whose header starts ``member``."""
    version = np.lib.format.read_magic(member)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(member)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(member)
    else:
        raise ValueError(f"entry {name!r} has .npy format version {version}")
    if dtype.hasobject:
        raise ValueError(f"entry {name!r} holds Python objects (pickle), which are never loaded")
    return member.tell() + math.prod(shape) * dtype.itemsize


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
    if os.path.isdir(path):
        raise IsADirectoryError(f"load: {path!r} is a folder, not a file")
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
