"""Random expression trees, sizes and precisions: every call answers or refuses with a package
error within a deadline — never a hang, never a stray exception type.

The trees are written as strings, so the restricted parser is exercised too.  A per-example alarm
turns a hang into a failure that names the input (Hypothesis then shrinks it).
"""
import contextlib
import signal

import mpmath
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import symkernel as sk
from symkernel.errors import SymkernelError

#: seconds one example may take (the calls below usually answer in well under a second)
DEADLINE = 30

UNARY = ["exp", "log", "sqrt", "sin", "cos", "tan", "sinh", "cosh", "tanh", "atan", "erf", "erfc",
         "abs", "sign", "Heaviside"]
BINARY = ["+", "-", "*", "/"]
leaves = st.sampled_from(["x", "x", "x", "1", "2", "-1", "1/2", "3", "pi", "alpha"])


def _extend(children):
    unary = st.builds(lambda f, a: f"{f}({a})", st.sampled_from(UNARY), children)
    binary = st.builds(lambda a, op, b: f"({a}) {op} ({b})", children, st.sampled_from(BINARY), children)
    power = st.builds(lambda a, n: f"({a})**{n}", children, st.sampled_from(["2", "3", "-1", "1/2", "x"]))
    extreme = st.builds(lambda f, a, b: f"{f}({a}, {b})", st.sampled_from(["max", "min"]), children, children)
    return unary | binary | power | extreme


expressions = st.recursive(leaves, _extend, max_leaves=6)


class Hang(Exception):
    pass


@contextlib.contextmanager
def deadline(seconds, what):
    def alarm(signum, frame):
        raise Hang(f"no answer within {seconds} s: {what}")
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _call(text, op, k, dps, rho):
    act = sk.activation(text)
    if op == "coefficient":
        q = sk.hermite_coefficient(act, k)
        return q.value(dps) if not q.free_symbols else q.expr
    if op == "beta":
        q = sk.isometry_strength(act)
        return q.value(dps) if not q.free_symbols else q.expr
    if op == "kernel":
        return sk.kernel_map(act)(rho, dps=dps)
    if op == "moment":
        q = sk.second_moment(act)
        return q.value(dps) if not q.free_symbols else q.expr
    raise AssertionError(op)


@pytest.mark.slow
@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(text=expressions, op=st.sampled_from(["coefficient", "beta", "kernel", "moment"]),
       k=st.integers(0, 6), dps=st.integers(5, 40), rho=st.sampled_from([0.3, -0.7, 0.99, 1]))
def test_random_expressions_answer_or_refuse_within_the_deadline(text, op, k, dps, rho):
    what = f"{op} of {text!r} (k={k}, dps={dps}, rho={rho})"
    before = mpmath.mp.dps
    with deadline(DEADLINE, what):
        try:
            value = _call(text, op, k, dps, rho)
        except SymkernelError as exc:
            assert str(exc), what               # a refusal says why
        except Hang:
            raise
        except Exception as exc:                 # noqa: BLE001 - the point of the test
            pytest.fail(f"{what} escaped as {type(exc).__name__}: {exc}")
        else:
            assert value is not None, what
    assert mpmath.mp.dps == before


@settings(max_examples=60, deadline=None, derandomize=True)
@given(text=expressions)
def test_parsing_a_random_tree_answers_or_refuses(text):
    with deadline(10, f"activation({text!r})"):
        try:
            act = sk.activation(text)
        except SymkernelError:
            return
        assert act.expr.free_symbols <= {sk.x, sk.alpha}
