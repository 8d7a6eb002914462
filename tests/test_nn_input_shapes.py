"""``net.kernel`` takes (n, d) arrays, one input per row (DESIGN.md: kernels of shape (n1, n2);
neural-tangents puts the batch on axis 0).  A 1-D array is ambiguous (one input of d features,
or d inputs of one feature) and is refused with a package error naming its shape, on every path."""
import numpy as np
import pytest

import symkernel as sk

NET = sk.nn.serial(sk.nn.Dense(1.0, 0.0), sk.nn.Activation("relu"), sk.nn.Dense(1.0, 0.0))


@pytest.mark.parametrize("call", [
    lambda: NET.kernel(np.ones(3)),
    lambda: NET.kernel([1.0, 2.0, 3.0]),
    lambda: NET.kernel(np.ones((2, 3)), np.ones(3)),
    lambda: NET.kernel(np.ones(3), dps=15),
    lambda: NET.kernel(np.ones(3), errors=True, fused=False),
    lambda: NET.kernel(np.ones(3), batch_size=1),
], ids=["numpy", "list", "x2", "dps", "numpy-path", "batched"])
def test_a_one_dimensional_input_is_refused(call):
    with pytest.raises(sk.errors.InvalidInputError, match=r"\(n, d\) array.*shape \(3,\)"):
        call()


def test_a_one_dimensional_tensor_is_refused():
    torch = pytest.importorskip("torch")
    with pytest.raises(sk.errors.InvalidInputError, match=r"x1 must be an \(n, d\) array"):
        NET.kernel(torch.ones(3, dtype=torch.float64))


def test_the_two_readings_of_a_vector_are_accepted_when_spelled_out():
    """x[None, :] is one input of 3 features (a 1 x 1 kernel, |x|^2/d at the Dense), x[:, None]
    three inputs of one feature (a 3 x 3 kernel); the values: ReLU of a variance q gives q/2."""
    v = np.array([1.0, 2.0, 3.0])
    one = NET.kernel(v[None, :])
    assert one.nngp.shape == (1, 1) and one.nngp[0, 0] == pytest.approx(14 / 3 / 2, rel=1e-15)
    many = NET.kernel(v[:, None])
    assert many.nngp.shape == (3, 3)
    np.testing.assert_allclose(many.nngp.diagonal(), v * v / 2, rtol=1e-15)
