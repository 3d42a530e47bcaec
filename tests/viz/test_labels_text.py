"""The text every picture's labels are made of (viz/labels.py), pinned character by character:
a number written wrongly, a shape for values or values for a shape would be a false label."""
from __future__ import annotations

import numpy as np
import pytest

from viz.labels import check_count, format_array, format_axes_sum, value_lines


def test_format_array_writes_numbers_rows_and_shapes():
    assert format_array(0.2350) == "0.235"
    assert format_array(np.float32(-0.0)) == "0"
    assert format_array([1.0, -2.5, 1e-5]) == "[1, -2.5, 1e-05]"
    assert format_array(np.zeros(0)) == "[]"
    assert format_array(np.zeros((2, 0))) == "[]"
    assert format_array([[1.0, 2.0], [3.0, 4.0]]) == "[[1, 2], [3, 4]]"
    assert format_array(np.arange(6.0)) == "[0, 1, 2, 3, 4, 5]"           # = max_elements
    assert format_array(np.arange(7.0)) == "shape (7,)"                     # > max_elements
    assert format_array(np.ones((2, 4))) == "shape (2,4)"
    assert format_array(np.ones((2, 4)), max_elements=8) == "[[1, 1, 1, 1], [1, 1, 1, 1]]"
    # a nested row keeps the caller's limit (the default 6 would print a 2×4 row as a shape)
    assert format_array(np.ones((1, 2, 4)), max_elements=8) == "[[[1, 1, 1, 1], [1, 1, 1, 1]]]"


def test_format_array_breaks_rows_over_48_characters():
    fits = np.array([[1.234, 1.234, -1.234], [1.234, 1.234, -1.234]])     # 48 characters
    assert format_array(fits) == "[[1.234, 1.234, -1.234], [1.234, 1.234, -1.234]]"
    longer = np.array([[1.234, 1.234, -1.234], [1.234, -1.234, -1.234]])  # 49 characters
    assert format_array(longer) == "[[1.234, 1.234, -1.234],\n [1.234, -1.234, -1.234]]"


def test_value_lines_scalar_column_rows_and_shape():
    assert value_lines("w", 0.5) == ["w = 0.5"]
    assert value_lines("w", [0.5]) == ["w = 0.5"]
    assert value_lines("w", []) == ["w = []"]
    assert value_lines("δ", [0.1, -0.2]) == ["δ =", "0.1", "-0.2"]
    assert value_lines("W", [[1.0, 2.0], [3.0, 4.0]]) == ["W =", "[1, 2]", "[3, 4]"]
    assert value_lines("W", np.ones((3, 3))) == ["W: shape (3,3)"]
    assert value_lines("W", np.ones((3, 3)), lang="es") == ["W: forma (3,3)"]
    assert value_lines("W", np.ones((2, 4)), max_elements=8) == ["W =", "[1, 1, 1, 1]",
                                                                "[1, 1, 1, 1]"]
    assert value_lines("W", np.ones(7)) == ["W: shape (7,)"]                # default limit 6
    assert value_lines("W", np.ones((1, 8)), max_elements=8) == ["W =", "[1, 1, 1, 1, 1, 1, 1, 1]"]
    assert value_lines("W", [[0.5]]) == ["W =", "[0.5]"]                    # a 1×1 matrix is a row
    assert value_lines("T", np.ones((2, 1, 3))) == ["T =", "[1, 1, 1]", "[1, 1, 1]"]


def test_format_axes_sum_names_the_summed_axes():
    assert format_axes_sum((4, 3), (3,)) == "Σ over axis 0: (4,3)→(3,)"
    assert format_axes_sum((4, 3), (1, 3), lang="es") == "Σ sobre el eje 0: (4,3)→(1,3)"
    assert format_axes_sum((2, 4, 3), (1,)) == "Σ over axes 0, 1, 2: (2,4,3)→(1,)"
    assert format_axes_sum((2, 4, 3), (4, 1)) == "Σ over axes 0, 2: (2,4,3)→(4,1)"
    assert format_axes_sum((1, 3, 4), (3, 1)) == "Σ over axes 0, 2: (1,3,4)→(3,1)"
    assert format_axes_sum((4, 2), (4, 1)) == "Σ over axis 1: (4,2)→(4,1)"


@pytest.mark.parametrize("value, optional, low, error, message", [
    (None, False, 0, TypeError, "draw: max_nodes must be an int, got NoneType None"),
    (2.0, True, 0, TypeError, "draw: max_nodes must be an int or None, got float 2.0"),
    (True, False, 0, TypeError, "draw: max_nodes must be an int, got bool True"),
    (-1, False, 0, ValueError, "draw: max_nodes must be at least 0, got -1"),
    (1, False, 2, ValueError, "draw: max_nodes must be at least 2, got 1"),
])
def test_check_count_names_the_picture_and_the_option(value, optional, low, error, message):
    with pytest.raises(error) as caught:
        check_count("draw", "max_nodes", value, low=low, optional=optional)
    assert str(caught.value) == message


def test_check_count_accepts_ints_at_the_bound_and_none_when_optional():
    with pytest.raises(TypeError, match="must be an int, got NoneType"):    # not optional
        check_count("draw", "max_nodes", None)
    check_count("draw", "max_nodes", 0)
    check_count("draw", "max_nodes", 2, low=2)
    check_count("draw", "max_nodes", np.int64(3))
    check_count("draw", "max_nodes", None, optional=True)
