"""nn.data: TensorDataset and DataLoader (online, mini-batch, full batch; seeded shuffles)."""
from __future__ import annotations

import numpy as np
import pytest

import autograd_core as ag
from nn.data import DataLoader, Dataset, TensorDataset


def _dataset(n=10):
    return TensorDataset(np.arange(2 * n, dtype=np.float32).reshape(n, 2), np.arange(n))


def test_tensor_dataset_len_getitem_and_inputs_of_any_kind():
    data = TensorDataset(ag.tensor([[1.0, 2.0], [3.0, 4.0]]), [[0.5], [1.5]], np.array([0, 1]))
    assert len(data) == 2
    x, t, y = data[1]
    assert isinstance(x, ag.Tensor) and x.tolist() == [3.0, 4.0]
    assert t.dtype == np.float32 and y.dtype == np.int64 and y.item() == 1
    assert repr(data) == "TensorDataset((2, 2), (2, 1), (2,))"


def test_tensor_dataset_rejects_mismatched_sample_counts():
    with pytest.raises(ValueError, match=r"same first dimension \(number of samples\), got "
                                         r"shapes \(3, 2\), \(4,\)"):
        TensorDataset(np.zeros((3, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="at least one tensor"):
        TensorDataset()
    with pytest.raises(ValueError, match="argument 1 is 0-d"):
        TensorDataset(np.zeros(3), 5.0)


@pytest.mark.parametrize("batch_size, drop_last, sizes", [
    (1, False, [1] * 10),                    # online learning
    (3, False, [3, 3, 3, 1]),                # mini-batches
    (3, True, [3, 3, 3]),
    (None, False, [10]),                     # full batch
    (10, True, [10]),
    (25, True, []),
])
def test_batch_sizes_cover_online_minibatch_and_full_batch(batch_size, drop_last, sizes):
    loader = DataLoader(_dataset(), batch_size=batch_size, drop_last=drop_last)
    batches = list(loader)
    assert [len(y) for _, y in batches] == sizes and len(loader) == len(sizes)
    assert all(isinstance(x, ag.Tensor) and x.ndim == 2 for x, _ in batches)
    if not drop_last:
        np.testing.assert_array_equal(np.concatenate([y.numpy() for _, y in batches]),
                                      np.arange(10))


def test_seeded_shuffle_changes_each_epoch_and_is_reproducible():
    def epochs(loader):
        return [np.concatenate([y.numpy() for _, y in loader]) for _ in range(3)]

    first = epochs(DataLoader(_dataset(), batch_size=4, shuffle=True, seed=1))
    second = epochs(DataLoader(_dataset(), batch_size=4, shuffle=True, seed=1))
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
        assert sorted(a) == list(range(10))
    assert not np.array_equal(first[0], first[1])
    other = epochs(DataLoader(_dataset(), batch_size=4, shuffle=True, seed=2))
    assert not np.array_equal(first[0], other[0])


def test_unseeded_shuffle_follows_the_global_seed():
    ag.manual_seed(5)
    a = [y.item() for _, y in DataLoader(_dataset(), shuffle=True)]
    ag.manual_seed(5)
    b = [y.item() for _, y in DataLoader(_dataset(), shuffle=True)]
    assert a == b and a != list(range(10))


def test_samples_stay_paired_after_shuffling():
    for x, y in DataLoader(_dataset(), batch_size=3, shuffle=True, seed=0):
        np.testing.assert_array_equal(x.numpy()[:, 0], 2 * y.numpy())


def test_generic_datasets_are_collated():
    class Squares(Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return np.array([i, i * i], dtype=np.float32), i % 2

    (x, y), *_ = DataLoader(Squares(), batch_size=5)
    assert x.shape == (5, 2) and x.numpy()[3].tolist() == [3, 9] and y.tolist() == [0, 1, 0, 1, 0]


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match=r"batch_size must be a positive integer or None.*0"):
        DataLoader(_dataset(), batch_size=0)
    with pytest.raises(TypeError, match="__len__ and __getitem__"):
        DataLoader(object())
    assert len(DataLoader(TensorDataset(np.zeros((0, 2))), batch_size=None)) == 0
    with pytest.raises(NotImplementedError, match="must define __len__"):
        len(Dataset())
