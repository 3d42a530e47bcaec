"""nn.datasets: toy sets (shapes, labels, seeds, separability) and the MNIST/Fashion-MNIST loaders
on IDX files written here, plus the real files in ../shared/data when they are present."""
from __future__ import annotations

import gzip
import hashlib
import http.server
import os
import socket
import struct
import threading
import time
import types
from pathlib import Path

import numpy as np
import platformdirs
import pytest

import autograd_core as ag
from nn import datasets

TOYS = [datasets.xor, datasets.circles, datasets.gaussians, datasets.spiral, datasets.moons]


# --- toy datasets -------------------------------------------------------------------------------
@pytest.mark.parametrize("make", TOYS, ids=lambda f: f.__name__)
def test_toy_sets_shapes_dtypes_labels_and_seeds(make):
    x, y = make(n_samples=101, noise=0.1, seed=3)
    assert isinstance(x, ag.Tensor) and x.shape == (101, 2) and x.dtype == np.float32
    assert y.shape == (101,) and y.dtype == np.int64 and set(y.tolist()) == {0, 1}
    again = make(n_samples=101, noise=0.1, seed=3)
    np.testing.assert_array_equal(x.numpy(), again[0].numpy())
    np.testing.assert_array_equal(y.numpy(), again[1].numpy())
    assert not np.array_equal(x.numpy(), make(n_samples=101, noise=0.1, seed=4)[0].numpy())
    ag.manual_seed(1)
    a = make(n_samples=20)[0].numpy()
    ag.manual_seed(1)
    np.testing.assert_array_equal(a, make(n_samples=20)[0].numpy())


@pytest.mark.parametrize("make", TOYS, ids=lambda f: f.__name__)
def test_noiseless_toy_sets_follow_their_rule(make):
    x, y = make(n_samples=400, noise=0.0, seed=0)
    x, y = x.numpy().astype(np.float64), y.numpy()
    if make is datasets.xor:
        assert np.all((x[:, 0] * x[:, 1] >= 0) == y) and np.abs(x).min() >= 0.3
    elif make is datasets.circles:
        r = np.hypot(x[:, 0], x[:, 1])
        assert np.all(r[y == 1] < 2.5) and np.all(r[y == 0] >= 3.5)
    elif make is datasets.gaussians:
        assert (np.sign(x.sum(axis=1)) == 2 * y - 1).mean() > 0.95
    elif make is datasets.spiral:
        assert np.hypot(x[:, 0], x[:, 1]).max() <= 5
    else:
        assert np.all(x[y == 0, 1] >= -1e-6) and np.all(x[y == 1, 1] <= 0.5 + 1e-6)
    if make is not datasets.xor:                        # xor's labels follow the quadrants
        assert abs(y.mean() - 0.5) < 0.01


def test_noise_flips_playground_labels_and_spreads_gaussians():
    x, y = datasets.xor(2000, noise=0.5, seed=0)
    x = x.numpy()
    assert 0.02 < np.mean((x[:, 0] * x[:, 1] >= 0) != y.numpy()) < 0.5
    spread = datasets.gaussians(2000, noise=0.5, seed=0)[0].numpy()
    assert abs(spread[:, 0].var() - (4 + 4)) < 0.8          # variance 4 plus the ±2 centers


def test_function_samples():
    x, t = datasets.function_samples(np.sin, 50, -3, 3, noise=0.0, seed=0)
    assert x.shape == t.shape == (50, 1) and np.all(np.diff(x.numpy()[:, 0]) >= 0)
    np.testing.assert_allclose(t.numpy(), np.sin(x.numpy()), atol=1e-6)
    assert x.numpy().min() >= -3 and x.numpy().max() <= 3
    _, noisy = datasets.function_samples(np.sin, 2000, -3, 3, noise=0.1, seed=0)
    x2 = datasets.function_samples(np.sin, 2000, -3, 3, seed=0)[0]
    assert abs(np.std(noisy.numpy() - np.sin(x2.numpy())) - 0.1) < 0.01
    with pytest.raises(ValueError, match=r"low \(1\) must be below high \(0\)"):
        datasets.function_samples(np.sin, 5, 1, 0)
    with pytest.raises(ValueError, match="same shape"):
        datasets.function_samples(lambda v: v[:2], 5)


def test_toy_argument_errors():
    with pytest.raises(ValueError, match=r"spiral: n_samples must be a positive integer, got 0"):
        datasets.spiral(0)
    with pytest.raises(ValueError, match=r"moons: noise must be non-negative"):
        datasets.moons(10, noise=-1)


# --- IDX loaders on files written here ---------------------------------------------------------
def _idx(array: np.ndarray, magic_type: int = 0x08) -> bytes:
    header = bytes([0, 0, magic_type, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def _write(folder: Path, name: str, raw: bytes) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    with gzip.open(folder / f"{name}.gz", "wb") as file:
        file.write(raw)
    return hashlib.md5(raw).hexdigest()


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A NEURONA_DATA folder with tiny mnist/ train files (7 images of 28×28)."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (7, 28, 28), dtype=np.uint8)
    labels = np.arange(7, dtype=np.uint8)
    sums = {"train-images-idx3-ubyte": _write(tmp_path / "mnist", "train-images-idx3-ubyte",
                                              _idx(images)),
            "train-labels-idx1-ubyte": _write(tmp_path / "mnist", "train-labels-idx1-ubyte",
                                              _idx(labels))}
    monkeypatch.setenv("NEURONA_DATA", str(tmp_path))
    return tmp_path, images, labels, sums


def test_loads_idx_files_from_neurona_data(fake):
    root, images, labels, sums = fake
    x, y = datasets.load_mnist("train", download=False, checksums=sums)
    assert x.shape == (7, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(x.numpy(), images.astype(np.float32) / 255)
    np.testing.assert_array_equal(y.numpy(), labels)
    flat, _ = datasets.load_mnist(root=root, flatten=True, download=False, checksums=sums)
    assert flat.shape == (7, 784) and float(flat.numpy().max()) <= 1.0
    direct, _ = datasets.load_mnist(root=root / "mnist", download=False, checksums=sums)
    assert direct.shape == (7, 28, 28)                 # a folder holding the files directly


def test_known_checksums_reject_files_that_are_not_the_real_ones(fake):
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.gz: checksum mismatch: MD5 "
                                         r"of the decompressed bytes is [0-9a-f]{32}, expected "
                                         r"6bbc9ace898e44ae57da46a324031adb"):
        datasets.load_mnist(download=False)
    sums = dict(fake[3], **{"train-labels-idx1-ubyte": "0" * 32})
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte.gz: checksum mismatch"):
        datasets.load_mnist(download=False, checksums=sums)


def test_bad_magic_number_is_rejected(fake):
    root, images, _, sums = fake
    sums["train-images-idx3-ubyte"] = _write(root / "mnist", "train-images-idx3-ubyte",
                                             _idx(images, magic_type=0x0D))   # float32 code
    with pytest.raises(ValueError, match=r"not an IDX file of unsigned bytes with 3 "
                                         r"dimension\(s\): magic number 00000d03"):
        datasets.load_mnist(download=False, checksums=sums)


def test_truncated_idx_and_truncated_gzip_are_rejected(fake):
    root, images, _, sums = fake
    short = _idx(images)[:-10]
    sums["train-images-idx3-ubyte"] = _write(root / "mnist", "train-images-idx3-ubyte", short)
    with pytest.raises(ValueError, match=r"IDX file is truncated: \d+ bytes for shape "
                                         r"\(7, 28, 28\)"):
        datasets.load_mnist(download=False, checksums=sums)
    path = root / "mnist" / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match="cannot decompress the file, it is truncated"):
        datasets.load_mnist(download=False, checksums=sums)


def test_image_and_label_counts_must_agree(fake):
    root, _, labels, sums = fake
    sums["train-labels-idx1-ubyte"] = _write(root / "mnist", "train-labels-idx1-ubyte",
                                             _idx(labels[:5]))
    with pytest.raises(ValueError, match="7 images but 5 labels"):
        datasets.load_mnist(download=False, checksums=sums)


class _Guard:
    """A socket guard: every attempt to resolve a name or open a connection is recorded and
    fails as it does on a machine without network."""

    def __init__(self, monkeypatch):
        self.calls = []

        def refuse(what):
            def blocked(*args, **kwargs):
                self.calls.append((what, args[:2]))
                raise OSError(f"network disabled by the test ({what})")
            return blocked

        for name in ("getaddrinfo", "create_connection"):
            monkeypatch.setattr(socket, name, refuse(name))
        monkeypatch.setattr(socket.socket, "connect", refuse("connect"))
        monkeypatch.setattr(socket.socket, "connect_ex", refuse("connect_ex"))


@pytest.fixture
def sleeps(monkeypatch):
    """Record the waits pooch makes between retries instead of waiting."""
    waits = []
    monkeypatch.setattr(time, "sleep", waits.append)
    return waits


def test_files_in_neurona_data_are_used_without_touching_the_network(fake, monkeypatch):
    _, images, _, sums = fake
    guard = _Guard(monkeypatch)
    x, _ = datasets.load_mnist("train", checksums=sums)            # download=True by default
    np.testing.assert_array_equal(x.numpy(), images.astype(np.float32) / 255)
    assert guard.calls == []


def test_offline_fails_at_once_saying_where_to_put_the_files(tmp_path, monkeypatch, sleeps):
    monkeypatch.setenv("NEURONA_DATA", str(tmp_path))
    guard = _Guard(monkeypatch)
    with pytest.raises(RuntimeError, match=r"fashion-mnist: t10k-images-idx3-ubyte.gz is not in "
                                           r".*fashion-mnist\. Put the canonical files .* there, "
                                           r"or set NEURONA_DATA .*Download failed: http"):
        datasets.load_fashion_mnist("test")
    hosts = {args[0] for what, args in guard.calls if what == "getaddrinfo"}
    assert len(hosts) == len(datasets.MIRRORS["fashion-mnist"])      # every mirror, once each
    assert sleeps == []                                 # an unreachable mirror is not retried
    with pytest.raises(FileNotFoundError, match=r"mnist: train-images-idx3-ubyte.gz is not in "
                                                r".*download=False"):
        datasets.load_mnist(download=False)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]     # nothing half-downloaded


@pytest.fixture
def server():
    """An HTTP server on the loopback interface serving ``files`` (name → bytes); the names in
    ``fail_first`` answer 500 the first time they are asked for."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            name = self.path.rsplit("/", 1)[1]
            state.requests.append(name)
            if name in state.fail_first and state.requests.count(name) == 1:
                self.send_error(500)
            elif name in state.files:
                self.send_response(200)
                self.send_header("Content-Length", str(len(state.files[name])))
                self.end_headers()
                self.wfile.write(state.files[name])
            else:
                self.send_error(404)

        def log_message(self, *args):
            pass

    state = types.SimpleNamespace(files={}, fail_first=set(), requests=[])
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/data/"
    yield state
    httpd.shutdown()
    httpd.server_close()


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/"         # nothing listens there


def test_pooch_downloads_through_mirrors_with_retries_and_known_hashes(tmp_path, monkeypatch,
                                                                       server, sleeps):
    images = np.zeros((2, 28, 28), np.uint8)
    server.files = {"train-images-idx3-ubyte.gz": gzip.compress(_idx(images)),
                    "train-labels-idx1-ubyte.gz": gzip.compress(_idx(np.array([3, 4], np.uint8)))}
    server.fail_first = {"train-images-idx3-ubyte.gz"}
    monkeypatch.setitem(datasets.MIRRORS, "mnist", (_closed_port_url(), server.url))
    monkeypatch.setitem(datasets.DOWNLOAD_CHECKSUMS, "mnist", {
        **datasets.DOWNLOAD_CHECKSUMS["mnist"],
        **{n[:-3]: hashlib.md5(p).hexdigest() for n, p in server.files.items()}})
    sums = {n[:-3]: hashlib.md5(gzip.decompress(p)).hexdigest() for n, p in server.files.items()}
    x, y = datasets.load_mnist(root=tmp_path, checksums=sums)
    assert x.shape == (2, 28, 28) and y.tolist() == [3, 4]
    assert sorted(p.name for p in (tmp_path / "mnist").iterdir()) == sorted(server.files)
    assert server.requests == ["train-images-idx3-ubyte.gz"] * 2 + ["train-labels-idx1-ubyte.gz"]
    assert sleeps == [1]                                # one retry after the server error
    # a file whose compressed hash is wrong is never moved into the cache (after the retries)
    server.files["t10k-images-idx3-ubyte.gz"] = b"not the file"
    with pytest.raises(RuntimeError, match=r"t10k-images-idx3-ubyte.gz is not in .*Download "
                                           r"failed: .*MD5 hash of downloaded file"):
        datasets.load_mnist("test", root=tmp_path)
    assert not (tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz").exists()
    assert len(sleeps) == 1 + datasets.RETRIES


def test_a_download_whose_content_is_wrong_is_removed(tmp_path, monkeypatch, server):
    server.files = {"train-images-idx3-ubyte.gz": gzip.compress(_idx(np.zeros((2, 28, 28)))),
                    "train-labels-idx1-ubyte.gz": gzip.compress(_idx(np.array([3, 4])))}
    monkeypatch.setitem(datasets.MIRRORS, "mnist", (server.url,))
    monkeypatch.setitem(datasets.DOWNLOAD_CHECKSUMS, "mnist", {
        n[:-3]: hashlib.md5(p).hexdigest() for n, p in server.files.items()})
    with pytest.raises(ValueError, match="checksum mismatch"):
        datasets.load_mnist(root=tmp_path)              # decompressed MD5: not the real MNIST
    assert not (tmp_path / "mnist" / "train-images-idx3-ubyte.gz").exists()


def test_bad_split_and_default_root(monkeypatch):
    with pytest.raises(ValueError, match=r"load_fashion_mnist: split must be 'train' or 'test'"):
        datasets.load_fashion_mnist("validation")
    monkeypatch.delenv("NEURONA_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "/cache-home")
    expected = Path(platformdirs.user_cache_dir("neurona"))
    assert datasets.data_root() == expected and expected.name == "neurona"
    monkeypatch.setenv("NEURONA_DATA", "/somewhere")
    assert datasets.data_root() == Path("/somewhere")
    assert datasets.data_root("/else") == Path("/else")


# --- the real files -----------------------------------------------------------------------------
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"   # ../shared/data of the repo
_CANDIDATES = [Path(p) for p in (os.environ.get("NEURONA_DATA"), SHARED) if p]
REAL = next((p for p in _CANDIDATES if (p / "mnist").is_dir()
             and (p / "fashion-mnist").is_dir()), SHARED)
needs_real = pytest.mark.skipif(not (REAL / "mnist").is_dir(),
                                reason=f"real MNIST/Fashion-MNIST files not found in {REAL}")


@needs_real
def test_real_mnist(monkeypatch):
    monkeypatch.setenv("NEURONA_DATA", str(REAL))
    x, y = datasets.load_mnist("train", download=False)
    assert x.shape == (60000, 28, 28) and y.shape == (60000,)
    pixels = x.numpy()
    assert round(float(pixels.mean(dtype=np.float64)), 4) == 0.1307
    assert round(float(pixels.std(dtype=np.float64)), 4) == 0.3081
    x, y = datasets.load_mnist("test", download=False, flatten=True)
    assert x.shape == (10000, 784) and set(np.unique(y.numpy())) == set(range(10))


@needs_real
def test_real_fashion_mnist(monkeypatch):
    monkeypatch.setenv("NEURONA_DATA", str(REAL))
    x, y = datasets.load_fashion_mnist("train", download=False)
    assert x.shape == (60000, 28, 28)
    assert float(x.numpy().mean(dtype=np.float64)) == pytest.approx(0.2860406, abs=5e-7)
    assert np.all(np.bincount(y.numpy()) == 6000)
    _, y = datasets.load_fashion_mnist("test", download=False)
    assert np.all(np.bincount(y.numpy()) == 1000) and len(datasets.FASHION_MNIST_CLASSES) == 10
