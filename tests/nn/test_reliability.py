"""Issue 13, nn: safer checkpoints (atomic, umask, symlinks, stale temp files, forged sizes),
exact GELU, forward-hook tickets, all-or-nothing load_state_dict, IDX sizes."""
from __future__ import annotations

import _thread
import hashlib
import io
import json
import math
import os
import struct
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from scipy import special

import autograd_core as ag
import nn
import nn.functional as F
from nn.datasets import _parse_idx
from nn.serialization import _COMMENT_SIZE, _DIGEST_PREFIX, STRUCTURE_KEY

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# --- 5. nn.save -----------------------------------------------------------------------------------
def test_saved_file_mode_follows_the_umask(tmp_path):
    previous = os.umask(0o022)
    try:
        nn.save({"w": np.ones(2)}, tmp_path / "a.npz")
        os.umask(0o027)
        nn.save({"w": np.ones(2)}, tmp_path / "b.npz")
    finally:
        os.umask(previous)
    assert oct(os.stat(tmp_path / "a.npz").st_mode & 0o777) == oct(0o644)
    assert oct(os.stat(tmp_path / "b.npz").st_mode & 0o777) == oct(0o640)


def test_saving_over_a_file_keeps_its_mode(tmp_path):
    path = tmp_path / "a.npz"
    nn.save({"w": np.ones(2)}, path)
    os.chmod(path, 0o600)
    nn.save({"w": np.zeros(2)}, path)
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_saving_into_a_missing_folder_names_the_users_path(tmp_path):
    path = tmp_path / "missing" / "ck.npz"
    with pytest.raises(FileNotFoundError, match=rf"save: cannot write '{path}': the folder "
                                                rf"'{path.parent}' does not exist"):
        nn.save({"w": np.ones(2)}, path)


def test_saving_over_a_symlink_writes_its_target(tmp_path):
    target = tmp_path / "real.npz"
    nn.save({"w": np.zeros(2)}, target)
    link = tmp_path / "latest.npz"
    link.symlink_to(target)
    nn.save({"w": np.ones(3)}, link)
    assert link.is_symlink()
    np.testing.assert_array_equal(nn.load(target)["w"], np.ones(3))


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_stale_temporary_files_are_swept_and_live_ones_kept(tmp_path):
    stale = tmp_path / f".ck.npz.{_dead_pid()}.0a1b2c3d.neurona-tmp"
    stale.write_bytes(b"half a checkpoint")
    live = tmp_path / f".ck.npz.{os.getppid()}.0a1b2c3d.neurona-tmp"   # a running process's
    live.write_bytes(b"being written")
    other = tmp_path / ".unrelated.tmp"
    other.write_bytes(b"not ours")
    nn.save({"w": np.ones(2)}, tmp_path / "ck.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [".unrelated.tmp", live.name, "ck.npz"])


_KILLED_SAVE = """
import os, sys, time
import numpy as np
import nn
real_fsync = os.fsync
def fsync_then_hang(fd):
    real_fsync(fd)
    print("written", flush=True)
    time.sleep(60)
os.fsync = fsync_then_hang
nn.save({"w": np.full(1000, 2.0)}, sys.argv[1])
"""


def test_a_save_killed_before_its_rename_leaves_the_previous_checkpoint(tmp_path):
    path = tmp_path / "ck.npz"
    nn.save({"w": np.full(1000, 1.0)}, path)
    env = {**os.environ, "PYTHONPATH": ROOT}
    process = subprocess.Popen([sys.executable, "-c", _KILLED_SAVE, str(path)],
                               stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout.readline().strip() == "written"   # the temp file is complete
        assert any(p.name.endswith(".neurona-tmp") for p in tmp_path.iterdir())
    finally:
        process.kill()
        process.wait()
    np.testing.assert_array_equal(nn.load(path)["w"], np.full(1000, 1.0))
    nn.save({"w": np.full(1000, 3.0)}, path)                    # sweeps the orphan
    assert [p.name for p in tmp_path.iterdir()] == ["ck.npz"]


# --- 5. nn.load: sizes checked before anything is allocated --------------------------------------
def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _forge(path, entries: dict[str, bytes], compression=zipfile.ZIP_STORED) -> None:
    """A zip with nn.save's checksum comment (anyone can compute it) around ``entries``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, raw in entries.items():
            archive.writestr(name, raw)
        archive.comment = b"0" * _COMMENT_SIZE
    data = bytearray(buffer.getvalue())
    data[-_COMMENT_SIZE:] = _DIGEST_PREFIX + hashlib.sha256(
        data[:-_COMMENT_SIZE]).hexdigest().encode()
    path.write_bytes(bytes(data))


def _structure() -> bytes:
    header = {"format": "neurona.save", "version": 1, "root": {"dict": [["w", {"array": "a0"}]]}}
    return _npy(np.array(json.dumps(header)))


def test_a_header_declaring_more_bytes_than_the_entry_holds_is_rejected(tmp_path):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10 ** 8,)})
    path = tmp_path / "forged.npz"
    _forge(path, {f"{STRUCTURE_KEY}.npy": _structure(), "a0.npy": header.getvalue() + bytes(80)})
    with pytest.raises(ValueError, match=r"entry 'a0.npy': its header declares an array of "
                                         r"800000\d+ bytes"):
        nn.load(path)


def test_a_compressed_entry_is_rejected_before_it_is_inflated(tmp_path):
    path = tmp_path / "bomb.npz"
    _forge(path, {f"{STRUCTURE_KEY}.npy": _structure(), "a0.npy": _npy(np.zeros(100_000))},
           compression=zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 10_000                         # 800 kB inflated
    with pytest.raises(ValueError, match="entry .* is compressed; nn.save writes uncompressed"):
        nn.load(path)


def test_an_honest_forged_file_still_loads(tmp_path):
    path = tmp_path / "ok.npz"
    _forge(path, {f"{STRUCTURE_KEY}.npy": _structure(), "a0.npy": _npy(np.arange(4.0))})
    np.testing.assert_array_equal(nn.load(path)["w"], np.arange(4.0))


# --- 6. IDX sizes ---------------------------------------------------------------------------------
def test_idx_header_with_huge_sizes_reports_the_exact_byte_count(tmp_path):
    raw = bytes([0, 0, 8, 3]) + struct.pack(">3I", 2 ** 32 - 1, 2 ** 32 - 1, 2 ** 32 - 1)
    expected = (2 ** 32 - 1) ** 3 + 16
    with pytest.raises(ValueError, match=rf"IDX file is truncated: 16 bytes for shape "
                                         rf"\(4294967295, 4294967295, 4294967295\), expected "
                                         rf"{expected}$"):
        _parse_idx(tmp_path / "x", raw, 3)


# --- 7. forward hooks -----------------------------------------------------------------------------
def test_forward_hook_handles_never_collide():
    calls = []

    def hook(module, inputs, output):
        calls.append(1)

    layer = nn.Linear(2, 2)
    first = layer.register_forward_hook(hook)
    layer.register_forward_hook(hook)
    first.remove()
    layer.register_forward_hook(hook)
    layer(ag.zeros(1, 2))
    assert len(calls) == 2


# --- 8. GELU --------------------------------------------------------------------------------------
def test_gelu_defaults_to_the_exact_erf_form():
    x = np.linspace(-4, 4, 41)
    exact = 0.5 * x * (1 + special.erf(x / math.sqrt(2)))
    np.testing.assert_allclose(nn.GELU()(ag.tensor(x)).numpy(), exact, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(F.gelu(ag.tensor(x)).numpy(), exact, rtol=1e-12, atol=1e-15)
    tanh_form = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    np.testing.assert_allclose(nn.GELU(approximate="tanh")(ag.tensor(x)).numpy(), tanh_form,
                               rtol=1e-12, atol=1e-15)
    assert repr(nn.GELU(approximate="tanh")) == "GELU(approximate='tanh')"


def test_exact_gelu_gradients_first_and_second_order():
    x = ag.Tensor(np.linspace(-3, 3, 7), requires_grad=True)
    assert ag.gradcheck(ag.gelu, (x,))
    assert ag.gradgradcheck(ag.gelu, (x,))


def test_gelu_rejects_an_unknown_approximation():
    with pytest.raises(ValueError, match="GELU: approximate must be 'none' or 'tanh', got 'erf'"):
        nn.GELU(approximate="erf")
    with pytest.raises(ValueError, match="gelu: approximate must be 'none' or 'tanh'"):
        F.gelu(ag.zeros(2), approximate="fast")


# --- 4. load_state_dict is all-or-nothing ---------------------------------------------------------
def test_ctrl_c_during_load_state_dict_is_delivered_after_every_tensor_is_written(monkeypatch):
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    new = {k: np.full(v.shape, 7.0, np.float32) for k, v in model.state_dict().items()}
    real_copy = ag.Tensor.copy_
    calls = []

    def copy_then_interrupt(self, source):
        calls.append(1)
        if len(calls) == 1:
            _thread.interrupt_main()               # Ctrl-C arrives during the first write
        return real_copy(self, source)

    monkeypatch.setattr(ag.Tensor, "copy_", copy_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        model.load_state_dict(new)
    assert len(calls) == 4
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, new[key])



def test_safetensors_saves_share_the_atomic_writer(tmp_path):
    pytest.importorskip("safetensors")
    target = tmp_path / "real.safetensors"
    nn.save({"w": np.zeros(2, np.float32)}, target)
    link = tmp_path / "latest.safetensors"
    link.symlink_to(target)
    previous = os.umask(0o022)
    try:
        nn.save({"w": np.ones(3, np.float32)}, link)
    finally:
        os.umask(previous)
    assert link.is_symlink() and os.stat(target).st_mode & 0o777 == 0o644
    np.testing.assert_array_equal(nn.load(target)["w"], np.ones(3, np.float32))
