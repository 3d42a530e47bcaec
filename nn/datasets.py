"""Datasets: the toy problems of TensorFlow Playground and the course, MNIST and Fashion-MNIST.

Toy classification sets return ``(X, y)``: X a float32 Tensor (n_samples, 2), y an int64 Tensor
of labels 0/1 (Playground's −1 is 0 here), shuffled. ``noise`` is Playground's slider divided
by 100 (0 … 0.5) except for ``moons`` (the std of Gaussian noise, as scikit-learn). ``seed``
makes a set reproducible; without it the data come from autograd_core's global generator.

MNIST and Fashion-MNIST are read from the canonical gzipped IDX files in
``<data folder>/<mnist|fashion-mnist>/``: ``$NEURONA_DATA`` when it is set, otherwise the
platform's cache folder (``platformdirs``). Files found there are used as they are, without
touching the network. Missing ones are downloaded with ``pooch`` (known MD5 of each compressed
file, ``RETRIES`` extra attempts, the ``MIRRORS`` in turn, a progress bar). Either way the MD5 of
each file's *decompressed* bytes is verified, so re-compressed copies are accepted; a wrong
checksum, a bad IDX header or a truncated file raises ``ValueError`` and nothing is returned.
Without a network the loaders fail at once (an unreachable mirror is not retried) and say where
to put the files.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import platformdirs

import autograd_core as ag
from autograd_core import Tensor

__all__ = [
    "FASHION_MNIST_CLASSES", "circles", "data_root", "function_samples", "gaussians",
    "load_fashion_mnist", "load_mnist", "moons", "spiral", "xor",
]


def _rng(seed: int | None) -> np.random.Generator:
    return ag.random.default_generator.numpy if seed is None else np.random.default_rng(seed)


def _check_args(name: str, n_samples: int, noise: float) -> None:
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) \
            or n_samples < 1:
        raise ValueError(f"{name}: n_samples must be a positive integer, got {n_samples!r}")
    if noise < 0:
        raise ValueError(f"{name}: noise must be non-negative, got {noise}")


def _finish(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[Tensor, Tensor]:
    order = rng.permutation(len(y))
    return (Tensor(x[order].astype(np.float32)), Tensor(y[order].astype(np.int64)))


def _halves(n_samples: int) -> tuple[int, int]:
    return n_samples // 2, n_samples - n_samples // 2


# --- TensorFlow Playground and the course -------------------------------------------------------
def xor(n_samples: int = 200, noise: float = 0.0, seed: int | None = None
        ) -> tuple[Tensor, Tensor]:
    """Playground's XOR: points in [−5, 5]² kept 0.3 away from the axes; label 1 when x·y ≥ 0.

    The label is taken at the point displaced by U(−5, 5)·noise in each coordinate, so noise
    flips labels near the axes (as Playground does).
    """
    _check_args("xor", n_samples, noise)
    rng = _rng(seed)
    points = rng.uniform(-5, 5, (n_samples, 2))
    points += np.where(points > 0, 0.3, -0.3)
    moved = points + rng.uniform(-5, 5, (n_samples, 2)) * noise
    return _finish(points, (moved[:, 0] * moved[:, 1] >= 0), rng)


def circles(n_samples: int = 200, noise: float = 0.0, seed: int | None = None
            ) -> tuple[Tensor, Tensor]:
    """Playground's circle: label 1 inside radius 2.5, 0 on the ring 3.5 ≤ r ≤ 5.

    Half the points are drawn at r ~ U(0, 2.5), half at r ~ U(3.5, 5); each label is that of the
    point displaced by U(−5, 5)·noise per coordinate.
    """
    _check_args("circles", n_samples, noise)
    rng = _rng(seed)
    inner, outer = _halves(n_samples)
    radius = np.concatenate([rng.uniform(0, 2.5, inner), rng.uniform(3.5, 5.0, outer)])
    angle = rng.uniform(0, 2 * np.pi, n_samples)
    points = np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1)
    moved = points + rng.uniform(-5, 5, (n_samples, 2)) * noise
    return _finish(points, np.hypot(moved[:, 0], moved[:, 1]) < 2.5, rng)


def gaussians(n_samples: int = 200, noise: float = 0.0, seed: int | None = None
              ) -> tuple[Tensor, Tensor]:
    """Playground's two Gaussian blobs: label 1 around (2, 2), 0 around (−2, −2).

    The variance grows linearly with the noise, from 0.5 (noise 0) to 4 (noise 0.5).
    """
    _check_args("gaussians", n_samples, noise)
    rng = _rng(seed)
    variance = 0.5 + 7.0 * noise
    positive, negative = _halves(n_samples)
    centers = np.repeat([[2.0, 2.0], [-2.0, -2.0]], [positive, negative], axis=0)
    points = centers + np.sqrt(variance) * rng.standard_normal((n_samples, 2))
    return _finish(points, np.arange(n_samples) < positive, rng)


def spiral(n_samples: int = 200, noise: float = 0.0, seed: int | None = None
           ) -> tuple[Tensor, Tensor]:
    """Playground's two interleaved spirals: r = 5i/n, θ = 1.75·2π·i/n (+ π for class 0),
    each coordinate moved by U(−1, 1)·noise."""
    _check_args("spiral", n_samples, noise)
    rng = _rng(seed)
    parts, labels = [], []
    for label, (count, delta) in zip((1, 0), zip(_halves(n_samples), (0.0, np.pi))):
        i = np.arange(count) / max(count, 1)
        r, theta = 5 * i, 1.75 * 2 * np.pi * i + delta
        part = np.stack([r * np.sin(theta), r * np.cos(theta)], axis=1)
        parts.append(part + rng.uniform(-1, 1, (count, 2)) * noise)
        labels.append(np.full(count, label))
    return _finish(np.concatenate(parts), np.concatenate(labels), rng)


def moons(n_samples: int = 200, noise: float = 0.0, seed: int | None = None
          ) -> tuple[Tensor, Tensor]:
    """Two interleaving half circles (scikit-learn's ``make_moons``): label 0 on the upper
    arc (cos t, sin t), 1 on the lower (1 − cos t, ½ − sin t), t ∈ [0, π]; Gaussian noise of
    std ``noise``."""
    _check_args("moons", n_samples, noise)
    rng = _rng(seed)
    upper, lower = _halves(n_samples)
    t_up, t_low = np.linspace(0, np.pi, upper), np.linspace(0, np.pi, lower)
    points = np.concatenate([np.stack([np.cos(t_up), np.sin(t_up)], axis=1),
                             np.stack([1 - np.cos(t_low), 0.5 - np.sin(t_low)], axis=1)])
    points += noise * rng.standard_normal(points.shape)
    return _finish(points, np.arange(n_samples) >= upper, rng)


def function_samples(f: Callable[[np.ndarray], np.ndarray], n_samples: int = 100,
                     low: float = -1.0, high: float = 1.0, noise: float = 0.0,
                     seed: int | None = None) -> tuple[Tensor, Tensor]:
    """Samples of a 1-D function for regression: x ~ U(low, high) (sorted), t = f(x) + noise·ε.

    ε ~ N(0, 1). Returns float32 Tensors X and t of shape (n_samples, 1).

    >>> X, t = function_samples(np.sin, 5, 0, 3, seed=0)
    >>> X.shape, t.shape, t.dtype
    ((5, 1), (5, 1), dtype('float32'))
    """
    _check_args("function_samples", n_samples, noise)
    if not low < high:
        raise ValueError(f"function_samples: low ({low}) must be below high ({high})")
    rng = _rng(seed)
    x = np.sort(rng.uniform(low, high, n_samples))
    y = np.asarray(f(x), dtype=np.float64)
    if y.shape != x.shape:
        raise ValueError(f"function_samples: f must map an array of shape {x.shape} to the same "
                         f"shape, got {y.shape}")
    y = y + noise * rng.standard_normal(n_samples)
    return Tensor(x[:, None].astype(np.float32)), Tensor(y[:, None].astype(np.float32))


# --- MNIST and Fashion-MNIST --------------------------------------------------------------------
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                         "Shirt", "Sneaker", "Bag", "Ankle boot")

_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}

#: MD5 of the decompressed IDX files (so re-compressed archives still verify)
CHECKSUMS = {
    "mnist": {
        "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
        "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
        "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
        "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
        "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
        "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
    },
}

#: MD5 of the canonical compressed files as the servers publish them: a download is verified
#: against these by pooch before it is moved into the cache
DOWNLOAD_CHECKSUMS = {
    "mnist": {
        "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310",
    },
}

#: where the canonical .gz files are served, tried in order
MIRRORS = {
    "mnist": ("https://ossci-datasets.s3.amazonaws.com/mnist/",
              "https://storage.googleapis.com/cvdf-datasets/mnist/",
              "http://yann.lecun.com/exdb/mnist/"),
    "fashion-mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                      "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/"
                      "data/fashion/"),
}

#: seconds to open a connection and to wait for data; an unreachable mirror is skipped at once
TIMEOUT = (5.0, 30.0)
#: extra attempts (pooch waits 1 s, 2 s, … between them) after a mirror that answered failed:
#: a broken transfer, a server error or a file whose checksum is wrong
RETRIES = 2


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The data folder: ``root``, else ``$NEURONA_DATA``, else the platform's cache folder for
    neurona (``platformdirs.user_cache_dir("neurona")``: ``~/.cache/neurona`` on Linux)."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("NEURONA_DATA")
    return Path(env).expanduser() if env else Path(platformdirs.user_cache_dir("neurona"))


def _find(base: Path, dataset: str, name: str) -> Path | None:
    """The file ``name``(.gz) in base/dataset/ or directly in base (a folder given as root)."""
    for folder in (base / dataset, base):
        for candidate in (folder / f"{name}.gz", folder / name):
            if candidate.is_file():
                return candidate
    return None


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as file:
                return file.read()
        return path.read_bytes()
    except (EOFError, OSError, zlib.error) as error:
        raise ValueError(f"{path}: cannot decompress the file, it is truncated or corrupt "
                         f"({error}); delete it so it can be downloaded again") from None


def _verify(path: Path, raw: bytes, expected: str | None) -> None:
    if expected is None:
        return
    digest = hashlib.md5(raw).hexdigest()
    if digest != expected.lower():
        raise ValueError(f"{path}: checksum mismatch: MD5 of the decompressed bytes is {digest}, "
                         f"expected {expected}; the file is corrupt or not the one expected — "
                         "delete it so it can be downloaded again")


def _parse_idx(path: Path, raw: bytes, ndim: int) -> np.ndarray:
    """An IDX file of unsigned bytes: magic 0x0000_08_<ndim>, ndim big-endian int32 sizes, data."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08 or raw[3] != ndim:
        found = raw[:4].hex() if len(raw) >= 4 else f"{len(raw)} bytes"
        raise ValueError(f"{path}: not an IDX file of unsigned bytes with {ndim} dimension(s): "
                         f"magic number {found}, expected 000008{ndim:02x}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header ({len(raw)} bytes, expected {header})")
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape)) + header
    if len(raw) != expected:
        what = "truncated" if len(raw) < expected else "longer than its header says"
        raise ValueError(f"{path}: IDX file is {what}: {len(raw)} bytes for shape {shape}, "
                         f"expected {expected}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


class _Unreachable(Exception):
    """A mirror that cannot be connected to (no network, DNS failure, refused): not retried."""


def _downloader():
    """pooch's HTTP downloader with a progress bar and timeouts; connection failures become
    ``_Unreachable``, which pooch does not retry, so an offline machine fails at once."""
    import pooch
    import requests

    http = pooch.HTTPDownloader(progressbar=True, timeout=TIMEOUT)

    def download(url, output_file, fetcher):
        try:
            http(url, output_file, fetcher)
        except requests.ConnectionError as error:
            raise _Unreachable(f"{url}: {error}") from None

    return download


def _download(dataset: str, name: str, folder: Path) -> Path:
    """Fetch name.gz with pooch from the first mirror that serves it, checked against its known
    MD5 (pooch downloads to a temporary file and moves it into ``folder`` only when it matches)."""
    import pooch
    import requests

    filename, errors = f"{name}.gz", []
    for mirror in MIRRORS[dataset]:
        fetcher = pooch.create(path=folder, base_url=mirror, retry_if_failed=RETRIES,
                               registry={filename: f"md5:{DOWNLOAD_CHECKSUMS[dataset][name]}"})
        try:
            return Path(fetcher.fetch(filename, downloader=_downloader()))
        except _Unreachable as error:
            errors.append(str(error))
        except (requests.RequestException, ValueError, OSError) as error:
            errors.append(f"{mirror}{filename}: {error}")
    raise RuntimeError(_missing_message(dataset, name, folder) + " Download failed: "
                       + "; ".join(errors))


def _missing_message(dataset: str, name: str, folder: Path) -> str:
    return (f"{dataset}: {name}.gz is not in {folder}. Put the canonical files "
            f"({', '.join(n + '.gz' for pair in _FILES.values() for n in pair)}) there, or set "
            f"NEURONA_DATA to a folder that has a '{dataset}/' sub-folder with them.")


def _load_file(dataset: str, name: str, base: Path, download: bool, ndim: int,
               checksums: Mapping[str, str]) -> np.ndarray:
    path = _find(base, dataset, name)
    downloaded = False
    if path is None:
        if not download:
            raise FileNotFoundError(_missing_message(dataset, name, base / dataset)
                                    + " (download=False)")
        path, downloaded = _download(dataset, name, base / dataset), True
    try:
        raw = _read_bytes(path)
        _verify(path, raw, checksums.get(name))
        return _parse_idx(path, raw, ndim)
    except ValueError:
        if downloaded:
            path.unlink(missing_ok=True)      # never leave a bad download in the cache
        raise


def _load(dataset: str, split: str, root, download: bool, flatten: bool,
          checksums: Mapping[str, str] | None) -> tuple[Tensor, Tensor]:
    if split not in _FILES:
        raise ValueError(f"load_{dataset.replace('-', '_')}: split must be 'train' or 'test', "
                         f"got {split!r}")
    sums = {**CHECKSUMS[dataset], **(checksums or {})}
    base = data_root(root)
    images_name, labels_name = _FILES[split]
    images = _load_file(dataset, images_name, base, download, 3, sums)
    labels = _load_file(dataset, labels_name, base, download, 1, sums)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{dataset} {split}: {images.shape[0]} images but {labels.shape[0]} "
                         "labels")
    x = images.astype(np.float32) / np.float32(255)
    if flatten:
        x = x.reshape(len(x), -1)
    return Tensor(x), Tensor(labels.astype(np.int64))


def load_mnist(split: str = "train", root: str | os.PathLike | None = None,
               download: bool = True, flatten: bool = False,
               checksums: Mapping[str, str] | None = None) -> tuple[Tensor, Tensor]:
    """MNIST digits: images float32 in [0, 1], (N, 28, 28) or (N, 784) with ``flatten``, and
    int64 labels 0–9. N = 60,000 (train) or 10,000 (test); train pixels have mean 0.1307 and
    std 0.3081.

    Files are looked up in ``root`` (or ``data_root()``: ``$NEURONA_DATA`` or the cache) under
    ``mnist/``, or directly in ``root``. ``checksums`` maps file names (without ``.gz``) to the
    MD5 of their decompressed bytes, overriding the known ones (for files you made yourself).
    """
    return _load("mnist", split, root, download, flatten, checksums)


def load_fashion_mnist(split: str = "train", root: str | os.PathLike | None = None,
                       download: bool = True, flatten: bool = False,
                       checksums: Mapping[str, str] | None = None) -> tuple[Tensor, Tensor]:
    """Fashion-MNIST (Zalando): as ``load_mnist``, in ``fashion-mnist/``; 10 clothing classes
    (``FASHION_MNIST_CLASSES``), 6,000 train and 1,000 test images each."""
    return _load("fashion-mnist", split, root, download, flatten, checksums)
