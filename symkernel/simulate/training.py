r"""Train the finite-width network of an :mod:`symkernel.nn` description by gradient descent on MSE.

Full-batch gradient descent on ``L = 1/2 sum_i |f(x_i) - y_i|^2`` (the ``loss="sum"`` convention of
:func:`symkernel.nn.gradient_flow`) with the network's own backward pass: for a Dense layer
``h -> sqrt(sigma_w^2/d_in) W h + sqrt(sigma_b^2) b`` with input rows ``h`` and output gradient
``g = dL/d(output)``,

``dL/dW = sqrt(sigma_w^2/d_in) g^T h``,   ``dL/db = sqrt(sigma_b^2) sum_i g_i``,

and ``theta <- theta - eta dL/dtheta``.  In the NTK parameterization, as the width grows, the
trained network follows the linear ODE ``df/dt = -Theta (f - y)`` at time ``t = eta * steps`` with
the infinite-width NTK ``Theta`` (Jacot, Gabriel & Hongler, NeurIPS 2018; Lee et al., NeurIPS 2019),
which :func:`symkernel.nn.gradient_flow` solves in closed form; gradient descent stays close to the
flow when ``eta lambda_max(Theta) << 1``.

>>> import numpy as np, symkernel as sk
>>> from symkernel.simulate.training import train_mse
>>> net = sk.nn.serial(sk.nn.Dense(2.0, 0.1), sk.nn.Activation("relu"), sk.nn.Dense(2.0, 0.1))
>>> x = np.array([[1.0, 0.0], [0.6, 0.8]])
>>> run = train_mse(net, x, np.array([1.0, -1.0]), width=64, steps=200, learning_rate=0.1, seed=0)
>>> bool(run.final_loss < 1e-6 * run.loss[0])
True
"""
from dataclasses import dataclass

import numpy as np

from symkernel.nn.inference import check_learning_rate
from symkernel.errors import InvalidInputError
from symkernel.nn.layers import Dense
from symkernel.nn.network import Network, Residual
from .backends import backend as make_backend, check_memory, check_seed

#: most gradient-descent steps of one run
MAX_STEPS = 1_000_000
#: widest trained network
MAX_WIDTH = 1 << 14
#: a run whose loss exceeds this multiple of (initial loss + 1) has diverged
DIVERGED = 1e6


@dataclass(frozen=True)
class TrainingRun:
    """A gradient-descent run: the outputs at the recorded ``steps``.

    ``train`` (len(steps), n[, k]) and ``test`` (len(steps), n_test[, k]; None without ``x_test``)
    are the network's outputs; ``loss`` the training loss ``1/2 sum (f - y)^2`` there;
    ``final_loss`` that after the last step; ``time = learning_rate * steps`` the gradient-flow time.
    """

    steps: np.ndarray
    time: np.ndarray
    train: np.ndarray
    test: object
    loss: np.ndarray
    final_loss: float
    width: int
    seed: int
    learning_rate: float


def dense_parameters(net, params):
    """The parameter dicts of the Dense layers of ``net``, in forward (depth-first) order."""
    out = []
    for layer, p in zip(net.flat, params):
        if isinstance(layer, Dense):
            out.append(p)
        elif isinstance(layer, Residual):
            out.extend(dense_parameters(layer.block, p))
        elif p:
            raise InvalidInputError(f"train_mse cannot update the parameters of {layer!r}")
    return out


def parameter_gradients(net, params, x, g, backend):
    """``[(dL/dW, dL/db)]`` of each Dense layer (forward order) given ``g = dL/df`` at the output
    on the inputs ``x`` (backend arrays); from the caches of :meth:`Network.backward_params`,
    whose ``(P, g)`` pairs give ``dL/dW = g^T P`` (``P = sqrt(sigma_w^2/d_in) h``) and
    ``dL/db = g^T P_b`` (``P_b`` the column of ``sqrt(sigma_b^2)``)."""
    _, caches = net.forward_params(params, x, backend)
    return _gradients(net, params, caches, g, backend)


def _gradients(net, params, caches, g, backend):
    _, parts = net.backward_params(params, caches, g, backend)
    if len(parts) % 2:
        raise InvalidInputError("unexpected backward pass: Dense layers give (W, b) pairs")
    pairs = [(parts[i], parts[i + 1]) for i in range(0, len(parts), 2)][::-1]
    grads = []
    for (pw, gw), (pb, gb) in pairs:
        grads.append((gw.T @ pw, (gb.T @ pb)[:, 0]))
    return grads


def _record(record, steps):
    if record is None:
        return np.array([0, steps])
    try:
        rec = np.asarray(record)
    except (TypeError, ValueError):
        rec = None
    if rec is None or rec.ndim != 1 or rec.size == 0 or not np.issubdtype(rec.dtype, np.integer) \
            or rec.min() < 0 or rec.max() > steps:
        raise InvalidInputError(f"record must be a 1-D list of integer steps in [0, {steps}], "
                                f"got {record!r}")
    return np.unique(rec)


def train_mse(net, x_train, y_train, width, steps, learning_rate, seed, backend="numpy",
              x_test=None, record=None, dtype="float64"):
    """Full-batch gradient descent of the width-``width`` network ``net`` (random init from
    ``seed``) on ``L = 1/2 sum (f(x_train) - y_train)^2`` for ``steps`` steps of size
    ``learning_rate``; the outputs on ``x_train`` and ``x_test`` are recorded at the steps in
    ``record`` (default ``[0, steps]``).  The last Dense layer has one output per column of
    ``y_train`` (``(n,)`` -> one output).  A run whose loss exceeds :data:`DIVERGED` times
    ``(initial loss + 1)`` stops with an InvalidInputError (step too large: keep
    ``learning_rate * lambda_max(NTK)`` below 2, well below for the flow)."""
    if not isinstance(net, Network):
        raise InvalidInputError("train_mse needs a network built by sk.nn.serial(...)")
    if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or not 1 <= width <= MAX_WIDTH:
        raise InvalidInputError(f"width must be an integer in [1, {MAX_WIDTH}], got {width!r}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 0 <= steps <= MAX_STEPS:
        raise InvalidInputError(f"steps must be an integer in [0, {MAX_STEPS}], got {steps!r}")
    eta = check_learning_rate(learning_rate)
    seed = check_seed(seed)
    X = np.asarray(x_train, dtype=np.float64)
    Y = np.asarray(y_train, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] == 0 or not np.all(np.isfinite(X)):
        raise InvalidInputError(f"x_train must be a finite 2-D array (n, d), got shape {X.shape}")
    if Y.ndim not in (1, 2) or Y.shape[0] != X.shape[0] or not np.all(np.isfinite(Y)):
        raise InvalidInputError(f"y_train must be finite, of shape ({X.shape[0]},) or "
                                f"({X.shape[0]}, k), got {Y.shape}")
    XT = None
    if x_test is not None:
        XT = np.asarray(x_test, dtype=np.float64)
        if XT.ndim != 2 or XT.shape[1] != X.shape[1] or not np.all(np.isfinite(XT)):
            raise InvalidInputError(f"x_test must be a finite 2-D array with {X.shape[1]} columns")
    rec = _record(record, int(steps))
    k = 1 if Y.ndim == 1 else Y.shape[1]
    rows = X.shape[0] + (0 if XT is None else XT.shape[0])
    check_memory(8 * width * (3 * width + 4 * rows) * max(len(net), 1), "the trained network")

    be = make_backend(backend, dtype, seed)
    params, d_out = net.init_params(be, X.shape[1], width, d_out=k)
    if d_out != k:
        raise InvalidInputError("train_mse needs a network whose last layer is Dense (its output)")
    dense = dense_parameters(net, params)
    xb, yb = be.asarray(X), be.asarray(Y.reshape(X.shape[0], k))
    xtb = None if XT is None else be.asarray(XT)
    shape = Y.shape
    train, test, losses = [], [], []

    def snapshot(f):
        train.append(np.asarray(be.to_numpy(f), dtype=np.float64).reshape(shape))
        losses.append(0.5 * float(np.sum((train[-1] - Y) ** 2)))
        if xtb is not None:
            ft, _ = net.forward_params(params, xtb, be)
            test.append(np.asarray(be.to_numpy(ft), dtype=np.float64).reshape((XT.shape[0],) + shape[1:]))

    wanted = set(int(s) for s in rec)
    f, caches = net.forward_params(params, xb, be)
    start = 0.5 * float(np.sum((np.asarray(be.to_numpy(f), dtype=np.float64).reshape(shape) - Y) ** 2))
    for step in range(int(steps) + 1):
        if step in wanted:
            snapshot(f)
        if step == steps:
            break
        r = f - yb
        for p, (dw, db) in zip(dense, _gradients(net, params, caches, r, be)):
            p["W"] = p["W"] - eta * dw
            p["b"] = p["b"] - eta * db
        f, caches = net.forward_params(params, xb, be)
        now = 0.5 * float(np.sum((np.asarray(be.to_numpy(f), dtype=np.float64).reshape(shape) - Y) ** 2))
        if not np.isfinite(now) or now > DIVERGED * (start + 1.0):
            raise InvalidInputError(f"gradient descent diverged at step {step + 1}: take "
                                    f"learning_rate well below 2 / lambda_max(NTK) (got {eta})")
    final = start if steps == 0 else now
    return TrainingRun(steps=rec, time=rec * eta, train=np.array(train),
                       test=None if XT is None else np.array(test), loss=np.array(losses),
                       final_loss=final, width=int(width), seed=seed, learning_rate=eta)


__all__ = ["DIVERGED", "MAX_STEPS", "MAX_WIDTH", "TrainingRun", "dense_parameters", "parameter_gradients",
           "train_mse"]
