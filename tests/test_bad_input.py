"""Bad input (the issue's examples not covered elsewhere): a package error that names the fault,
raised at once, or the right answer.  The parser's refusals are in test_activations.py, the
command line's in test_cli.py, random trees in test_bad_input_fuzz.py."""
import re

import numpy as np
import pytest
import sympy as sp

import symkernel as sk
from symkernel.errors import NotSquareIntegrableError


@pytest.mark.parametrize("expr, where", [
    ("1/sqrt(abs(x))", "singular at x = 0"),             # c_1 = 0 by parity, but sigma^2 ~ 1/|x|
    ("abs(x)**(-1/2)", "singular at x = 0"),
    ("exp(x**2*sin(pi*x/8)**2)", "appears infinite"),    # grows like exp(x^2) at x = 4 + 8m
])
def test_not_square_integrable_is_refused_even_where_parity_gives_zero(expr, where):
    with pytest.raises(NotSquareIntegrableError, match=where):
        sk.hermite_coefficient(expr, 1)
    with pytest.raises(NotSquareIntegrableError):
        sk.second_moment(expr)


@pytest.mark.parametrize("expr, p", [("abs(x)**(-1/4)", -0.5), ("x/sqrt(abs(x))", 1)])
def test_integrable_singularities_at_a_breakpoint_are_answered(expr, p):
    """E|Z|^p = 2^(p/2) Gamma((p+1)/2)/sqrt(pi), finite for p > -1."""
    import mpmath

    with mpmath.workdps(30):
        p = mpmath.mpf(p)
        expected = 2 ** (p / 2) * mpmath.gamma((p + 1) / 2) / mpmath.sqrt(mpmath.pi)
        assert abs(sk.second_moment(expr).value(12) - expected) < mpmath.mpf(10) ** -11 * expected


@pytest.mark.parametrize("k, n, what", [(3, 10**8, "beyond"),
                                        (-1, 5, "k must be"), (1, 4.5, "n must be")])
def test_cnn_window_sizes_are_checked_first(k, n, what):
    with pytest.raises(sk.InvalidInputError, match=what):
        sk.meanfield.cnn_eigenvalues(k, n)


def test_cnn_one_by_one_filter_is_the_identity():
    assert sk.meanfield.cnn_eigenvalues(0, 5) == [1] * 5


@pytest.mark.parametrize("kwargs, depth", [({}, 10**8), ({"dps": 20}, 10**5), ({"exact": True}, 50)])
def test_sequence_depth_is_checked_before_iterating(kwargs, depth):
    with pytest.raises(sk.InvalidInputError, match=f"depth {depth} is beyond"):
        sk.kernel_dynamics("relu").sequence(0.5, depth, **kwargs)


@pytest.mark.parametrize("call, what", [
    (lambda: sk.simulate_mlp("tanh", n=2, width=10**6, depth=2), "GiB of memory"),
    (lambda: sk.simulate_mlp("tanh", n=2, width=8, depth=2, seed=2**70), "seed must be"),
    (lambda: sk.simulate_mlp("tanh", n=2, width=8, depth=2, seed=-1), "seed must be"),
    (lambda: sk.simulate_mlp("exp(x**2)", n=2, width=8, depth=2), "infinite"),
    (lambda: sk.sde.simulate_resnet("relu", 4, 10, 10, horizon=float("inf")), "finite positive"),
    (lambda: sk.sde.simulate_resnet("relu", 4, 10, 10, seed=2**70), "seed must be"),
    (lambda: sk.sde.simulate_resnet("relu", 10**5, 10, 10**5), "GiB of memory"),
    (lambda: sk.sde.simulate_resnet("relu", 10**4, 10, 10**3, method="weights"), "GiB of memory"),
    (lambda: sk.sde.simulate_resnet("exp(x**2)", 4, 50, 100), "overflowed"),
])
def test_simulations_refuse_before_allocating_or_say_they_overflowed(call, what):
    with pytest.raises(sk.InvalidInputError, match=what):
        call()


def test_large_seeds_are_reproducible():
    a = sk.simulate_mlp("tanh", n=2, width=8, depth=2, seed=2**62)
    b = sk.simulate_mlp("tanh", n=2, width=8, depth=2, seed=2**62)
    c = sk.simulate_mlp("tanh", n=2, width=8, depth=2, seed=2**62 + 1)
    assert (a.gram == b.gram).all() and not (a.gram == c.gram).all()


def test_torch_threads_must_be_positive():
    pytest.importorskip("torch")
    with pytest.raises(sk.InvalidInputError, match="threads must be a positive integer"):
        sk.sde.simulate_resnet("relu", 4, 10, 10, backend="torch", threads=0)


@pytest.mark.parametrize("k", [16, 17, 20, 25])
@pytest.mark.parametrize("evaluate", [
    lambda r: sk.kernel_map("tanh")(r, dps=30),
    lambda r: sk.kernel_map("relu")(r, dps=30),
    lambda r: sk.dual_kernel("softplus")(r, dps=20),
    lambda r: sk.derivative_kernel("tanh")(r, dps=20),
    lambda r: sk.kernel_dynamics("tanh").sequence(r, 2, dps=20),
])
def test_rho_just_beyond_one_is_refused_at_any_ambient_precision(k, evaluate):
    """1 + 10^-k given as a 40-digit mpf: once accepted because abs() rounded it to 1 at the
    ambient 15 digits (then sqrt(1 - rho^2) went complex deep inside)."""
    import mpmath

    for sign in (1, -1):
        with mpmath.workdps(40):
            r = sign * (1 + mpmath.mpf(10) ** -k)
        with pytest.raises(sk.InvalidInputError, match="outside"):
            evaluate(r)


def test_large_symbolic_gram_is_refused_at_once_but_exact_numbers_are_answered():
    import sympy as sp

    n = 12
    symbolic = sp.Matrix(n, n, lambda i, j: sp.Symbol(f"g{min(i, j)}_{max(i, j)}") if i != j else 1)
    with pytest.raises(sk.InvalidInputError, match="12x12 Gram matrix with free symbols"):
        sk.isometry(symbolic)
    exact = sp.Matrix(n, n, lambda i, j: sp.Rational(1, 2 + abs(i - j)) if i != j else 1)
    q = sk.isometry(exact)
    import numpy as np

    assert q.exact and float(q) == pytest.approx(float(sk.isometry(np.array(exact, dtype=float))), rel=1e-12)


def test_a_symbol_other_than_x_must_be_declared_real_and_is_then_a_parameter():
    import sympy as sp

    with pytest.raises(sk.InvalidInputError, match=r"\['y'\] besides x.*real=True"):
        sk.activation(sp.Symbol("y") * sk.x)
    y = sp.Symbol("y", real=True)
    act = sk.activation(sp.tanh(y * sk.x))
    assert act.free_parameters == {y}
    w = sp.Symbol("w", positive=True)
    assert sk.isometry_strength(w * sk.x).expr == 1       # affine for every w > 0


@pytest.mark.parametrize("bad, what", [
    ([[1, 2], [3]], r"ragged rows .*row lengths \[2, 1\]"),
    ([[1.0, [0.5]], [0.5, 1.0]], "ragged rows"),
    (np.array([[1, 2], [3]], dtype=object), r"nested sequence \[1, 2\]"),
    (np.array([np.ones(2), np.ones(3)], dtype=object), "nested sequence"),
    (np.ones((2, 3)), r"square 2-D array .*shape \(2, 3\)"),
    (np.ones((2, 2, 2)), r"square 2-D array .*shape \(2, 2, 2\)"),
    (np.array([]), r"empty array, shape \(0,\)"), ([[]], "empty array"), (np.zeros((0, 0)), "n = 0"),
    (3.0, r"shape \(\)"), ("abc", "a string 'abc'"), ("[[1, 0], [0, 1]]", "a string"), (None, "None"),
    ({"a": 1}, "dict"), ((r for r in [[1, 0], [0, 1]]), "generator"),
    ([["1", "0"], ["0", "1"]], "string entries"), (np.eye(2, dtype=bool), "boolean entries"),
    (np.array([[1, None], [None, 1]], dtype=object), "the entry None"),
    (np.array([[1, "a"], ["a", 1]], dtype=object), "the entry 'a'"),
    ([[1, 0.5j], [-0.5j, 1]], "complex"), (np.array([[1, 0.5j], [-0.5j, 1]], dtype=object), "complex entry"),
    (sp.Matrix([[1, sp.I / 2], [-sp.I / 2, 1]]), "complex entry I/2"),
    (np.array([[1, sp.Symbol("a")], [sp.Symbol("a"), 1]], dtype=object), "symbolic entry a"),
    (np.array([[1, 0], [0, 1]], dtype="datetime64[s]"), "datetime64"),
    (np.zeros((2, 2), dtype=[("a", "f8")]), "structured array"),
    (np.ma.array(np.eye(2), mask=[[0, 1], [1, 0]]), "masked entries"),
    (np.array([[10**400, 0], [0, 1]], dtype=object), "beyond float64's range"),
])
def test_malformed_gram_matrices_get_a_package_error_naming_the_fault(bad, what):
    """Once: strings of digits, booleans, dates, masked or structured arrays were read as numbers
    (isometry 1.0 or 0.0); a huge Python int escaped as OverflowError."""
    for fn in (sk.isometry, sk.isometry_gap, sk.gram.isometry_float):
        with pytest.raises(sk.InvalidInputError, match=what):
            fn(bad)


@pytest.mark.parametrize("G", [np.array([[2.0, 1.0], [1.0, 2.0]]), [[2, 1], [1, 2]],
                               np.array([[2, 1], [1, 2]], dtype=np.int16), sp.Matrix([[2, 1], [1, 2]])])
def test_isometry_is_a_quantity_whatever_the_input_type(G):
    q, gap = sk.isometry(G), sk.isometry_gap(G)
    assert isinstance(q, sk.Quantity) and isinstance(gap, sk.Quantity)
    assert float(q) == pytest.approx(3**0.5 / 2, rel=1e-15)
    assert q.kind in ("exact", "certified") and q.provenance.startswith(q.kind)


def test_nearly_constant_activation_is_not_refused_as_constant():
    """sigma = 1 + 1e-9 x: E sigma^2 - c_0^2 = 1e-18 cancelled to 0 in floats ("constant
    activation"); the mean-reduced dual at 1 keeps it, and after mean-field centering and
    normalization the network is the linear one (a second path: c_0 = 0, sigma_bar(1) = 1)."""
    kw = dict(n=3, width=256, depth=2, centering="mean_field", normalization="mean_field",
              dtype="float64", seed=1)
    near = sk.simulate_mlp("1 + 1e-9*x", **kw).gram
    assert np.allclose(near, sk.simulate_mlp("x", **kw).gram, rtol=1e-6, atol=0)


@pytest.mark.parametrize("kwargs, what", [
    ({"width": 0}, "width must be an integer >= 1, got 0"),      # once ZeroDivisionError
    ({"width": 4.7}, "width must be an integer >= 1, got 4.7"),  # once truncated silently to 4
    ({"width": 10**6}, "GiB of memory"),
    ({"width": 4, "seed": 2**70}, "seed must be"),
])
def test_simulate_jacobian_checks_its_sizes(kwargs, what):
    with pytest.raises(sk.InvalidInputError, match=what):
        sk.meanfield.simulate_jacobian("tanh", 1.5, 0.05, depth=2, q1=1.0, **kwargs)


# --- growth beyond any Gaussian, poles on the real line (refused before any quadrature) -------
@pytest.mark.parametrize("expr", ["exp(exp(exp(exp(x))))", "exp(exp(exp(x)))", "x*exp(exp(exp(x)))",
                                  "exp(exp(x))", "exp(exp(-x))"])
def test_iterated_exponentials_are_refused_at_once(expr):
    """exp(exp(exp(exp(x)))) once hung in SymPy's N (all digits of exp(exp(exp(31)))): the
    samples are Arb balls, whose overflow is itself the verdict."""
    with pytest.raises(NotSquareIntegrableError, match=r"infinite for sigma"):
        sk.isometry_strength(expr)


@pytest.mark.parametrize("expr, end", [("exp(-x**5)*x", "-oo"), ("exp(x**3)", "+oo"),
                                       ("exp(-x**3)", "-oo"), ("x**2*exp(x**4)", "[-+]oo"),
                                       ("exp(x**2 - x**5)", "-oo"), ("(1 + x)*exp(x**6/7)", "[-+]oo")])
def test_polynomial_exponents_beyond_degree_two_are_refused(expr, end):
    """sum q_i exp(P_i) with deg P > 2 and P(+-t) -> +oo: not square integrable (once
    c_1(exp(-x**5) x) ran quadrature for minutes: only the +oo end was checked)."""
    with pytest.raises(NotSquareIntegrableError, match=rf"x -> {re.escape(end) if end[0] != '[' else end}"):
        sk.hermite_coefficient(expr, 1)


@pytest.mark.parametrize("expr", ["exp(-x**4)", "exp(x**3 - x**4)", "x**3*exp(-x**6)"])
def test_decaying_polynomial_exponents_are_accepted(expr):
    assert isinstance(sk.second_moment(expr), sk.Quantity)     # no refusal (nothing evaluated)


@pytest.mark.parametrize("expr, pole", [("tan(x)", "pi/2"), ("tan(2*x + 1)", "-1/2 + pi/4"),
                                        ("1/cos(x)", "pi/2"), ("tanh(x)/cos(x)", "pi/2"),
                                        ("x/sin(x)", "pi"), ("tan(exp(x))", "log(pi/2)"),
                                        ("1/(1 + cos(x))", "pi"), ("1/(sin(x) - x/10)", "-8.42")])
def test_poles_on_the_real_line_are_refused_up_front(expr, pole):
    """Once accepted, then each evaluation ran > 60 s before a PrecisionError."""
    with pytest.raises(NotSquareIntegrableError, match=f"singular at x = {re.escape(pole)}"):
        sk.hermite_coefficient(expr, 1)


@pytest.mark.parametrize("expr", ["1/(2 + cos(x))", "sin(x)/x", "tanh(x)/(1 + x**2)"])
def test_pole_free_quotients_are_answered(expr):
    assert isinstance(sk.second_moment(expr), sk.Quantity)


def test_high_degree_polynomial_moment_is_exact_and_fast():
    """(x+1)^200 took ~40 s (an O(n^2) binomial loop per monomial); E[(Z+1)^200] against the
    binomial sum of the double factorials E[Z^2j] = (2j-1)!!, in Python integers."""
    import math

    def dfact(m):
        return math.prod(range(m, 0, -2)) if m > 0 else 1

    expected = sum(math.comb(200, 2 * j) * dfact(2 * j - 1) for j in range(101))
    assert sk.expectation("(x+1)**200").expr == expected
    assert sk.isometry_strength("(x+1)**200").exact


def test_resnet_sde_width_is_bounded_up_front():
    with pytest.raises(sk.InvalidInputError, match=r"n=100000 .*at most 128"):
        sk.sde.resnet_sde("relu", n=10**5)
    assert sk.sde.resnet_sde("relu", n=3).dim == 3


def test_dps_refusal_names_the_requested_digits():
    """The public check runs before guard digits are added: 1001 is refused as 1001."""
    from symkernel.numerics import MAX_DPS

    with pytest.raises(sk.InvalidInputError, match=r"dps=1001 is beyond"):
        sk.kernel_map("tanh")(0.5, dps=MAX_DPS + 1)


# --- the remaining probes (benchmarks/bad_input_probes.py runs the whole list) ------------
def _cli(*argv):
    """``(status, stdout, stderr)`` of the command line run in process."""
    import contextlib
    import io

    from symkernel.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(list(argv))
        except SystemExit as exc:
            status = exc.code
    return status, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("call, asked, most", [
    (lambda: sk.kernel_map("tanh")(0.5, dps=1000), 1000, 997),
    (lambda: sk.edge_of_chaos("tanh", 0.05)[0].value(1000), 1000, 980),
])
def test_too_many_digits_are_refused_in_terms_of_the_digits_asked(call, asked, most):
    """Once 'dps=1003 is beyond ... counting the guard digits' for a request of 1000: the guard
    digits were the package's, the number the user's."""
    with pytest.raises(sk.InvalidInputError, match=rf"dps={asked} is beyond .* at most {most} digits"):
        call()


@pytest.mark.parametrize("argv, asked, most", [
    (("kernel", "tanh", "--rho", "0.5", "--dps", "1000"), 1000, 997),
    (("eoc", "tanh", "--dps", "1000"), 1000, 980),
])
def test_command_line_names_the_digits_asked(argv, asked, most):
    status, _, err = _cli(*argv)
    assert status == 2 and f"dps={asked} is beyond" in err and f"at most {most} digits" in err
    assert "1003" not in err and "1010" not in err


def test_dps_beyond_the_limit_is_refused_as_asked():
    with pytest.raises(sk.InvalidInputError, match=r"dps=1500 is beyond what symkernel supports"):
        sk.kernel_map("tanh")(0.3, dps=1500)


def test_rho_typed_with_more_digits_than_a_double_keeps_them():
    """0.99999999999999999 is 1.0 as a float; typed on the command line it is read as the decimal
    (kappa < 1 there, and it is shown as typed, not as '1.0'); 1 + 1e-17 typed to 30 digits is
    refused as outside [-1, 1]."""
    status, out, _ = _cli("kernel", "tanh", "--rho", "0.99999999999999999", "--dps", "20")
    line = [s for s in out.splitlines() if "at rho" in s][0]
    assert status == 0 and "at rho = 0.99999999999999999:" in line
    assert line.split(": ")[1].startswith("0.9999999999999999")      # below kappa(1) = 1
    status, _, err = _cli("kernel", "tanh", "--rho", "1.00000000000000001000000000000", "--dps", "20")
    assert status == 2 and "rho = 1.00000000000000001 is outside [-1, 1]" in err
    assert sk.kernel_map("tanh")(1 + 1e-17) == 1                     # the float 1 + 1e-17 is 1.0


@pytest.mark.parametrize("text", ["1e-999999999", "-1e-999999999"])
def test_rho_string_with_a_huge_exponent_answers_at_once(text):
    """sp.Rational('1e-999999999') once hung (a billion-digit integer) while the string was read;
    kappa_relu(rho) = 1/pi + rho/2 + O(rho^2) at rho = 1e-999999999 is 1/pi to every digit asked."""
    import mpmath

    value = sk.kernel_map("relu")(text, dps=20)
    with mpmath.workdps(30):
        assert abs(value - 1 / mpmath.pi) < mpmath.mpf(10) ** -20
    with pytest.raises(sk.InvalidInputError, match=r"outside \[-1, 1\]"):
        sk.kernel_map("relu")("1e999999999")


def test_mean_field_at_a_huge_weight_variance_solves_the_length_map():
    """q* = sigma_w^2 E[tanh(sqrt(q*) Z)^2] + sigma_b^2 at sigma_w^2 = 1e6, checked by mpmath
    quadrature written here (a path sharing no code with the package's moments)."""
    import mpmath

    def residual(q):
        s = mpmath.sqrt(q)
        V = mpmath.quad(lambda z: mpmath.tanh(s * z) ** 2 * mpmath.npdf(z), [-mpmath.inf, -1, 0, 1, mpmath.inf])
        return abs(10**6 * V + mpmath.mpf(1) / 20 - q)

    q = sk.mean_field("tanh", 1e6, 0.05).q_star.value(20)
    with mpmath.workdps(30):
        assert residual(q) < mpmath.mpf(10) ** -12 * q
        assert residual(q * (1 + mpmath.mpf(10) ** -9)) > mpmath.mpf(10) ** -12 * q   # a wrong q* fails


def test_large_identity_gram_is_exactly_isometric_at_once():
    q = sk.isometry(np.eye(3000))
    assert q.expr == 1 and "multiple of the identity" in q.provenance


@pytest.mark.parametrize("text, why", [
    ("(" * 2000 + "x" + ")" * 2000, "longer than 500 characters"),
    ("x**100000", "exponent 100000 is beyond 1000"),
])
def test_oversized_strings_are_refused_before_any_work(text, why):
    with pytest.raises(sk.UnknownActivationError, match=re.escape(why)):
        sk.hermite_coefficient(text, 1)


def test_edge_of_chaos_of_exp_is_refused_as_unstable():
    """phi = exp: chi_1 = sigma_w^2 e^{2q} = 1 gives q* = 1 + sigma_b^2 = 1.05 at sigma_w^2 =
    e^{-2.1} = 0.122456..., where the length map q -> sigma_w^2 e^{2q} + sigma_b^2 has slope
    2 sigma_w^2 e^{2q*} = 2 > 1: an unstable fixed point, so no edge of chaos (once an answer)."""
    import math

    with pytest.raises(sk.InvalidInputError,   # NoFixedPointError
                       match=rf"q\* = 1.05 at sigma_w2 = {math.exp(-2.1):.6f}"):
        sk.edge_of_chaos("exp", 0.05)


def test_dynamics_header_names_the_symbolic_gain():
    status, out, _ = _cli("dynamics", "relu", "--gain", "alpha")
    assert status == 0 and out.splitlines()[0].endswith("for the kernel map of Max(0, alpha*x)")


def test_ragged_gram_rows_get_a_package_error():
    """sympy.Matrix([[1, 2], [3]]) raises inside SymPy before symkernel is called (nothing the
    package can catch); the same rows as a nested list are refused by sk.isometry."""
    with pytest.raises(sk.InvalidInputError, match=r"ragged rows .*row lengths \[2, 1\]"):
        sk.isometry([[1, 2], [3]])


def test_validation_needs_two_seeds_for_a_standard_error():
    with pytest.raises(sk.InvalidInputError, match="at least two seeds"):
        sk.validate.kernel_sequence("relu", 0.5, width=16, depth=3, seeds=[0])


@pytest.mark.parametrize("expr, point", [("sqrt(3 - x)", "4"), ("sqrt((max(3, 2)) - (x))", "4"),
                                         ("sqrt(100 - x)", "101"), ("log(3 - x)", "4"), ("x**(1/3)", "-1"),
                                         ("sqrt((x - 1)*(x - 2))", "3/2")])
def test_roots_and_logs_of_negative_numbers_are_refused_wherever_they_are(expr, point):
    """Found by the bad-input fuzz at 300 examples: beta of sqrt(3 - x) ran > 30 s in Arb
    quadrature (a branch point at 3), and E sigma^2 = E[3 - Z] = 3 was answered for a sigma that
    is not real beyond 3 (the samples at +-2.86 and 0 missed it).  The negative set of the
    polynomial under the root is now located exactly, at any distance."""
    for call in (sk.isometry_strength, sk.second_moment, lambda e: sk.hermite_coefficient(e, 1)):
        with pytest.raises(sk.InvalidInputError, match=rf"is not real at x = {re.escape(point)} "):
            call(expr)


@pytest.mark.parametrize("expr", ["sqrt(x**2 + 1)", "log(1 + x**2)", "sqrt(abs(x))", "sqrt(max(x, 0))"])
def test_roots_of_nonnegative_arguments_are_accepted(expr):
    assert isinstance(sk.second_moment(expr), sk.Quantity)


@pytest.mark.parametrize("text", ["0.3", "-2", "1e-5", "5/6", " .5 ", "2.50E+3", "-7/14", "1e1000", "1e-1001",
                                  "1/0", "two", "0x10", "1e", "--1", "3/-4"])
def test_command_line_reads_numbers_as_decimal_value_does(text):
    """The command line checks numbers before importing SymPy, with its own copy of the grammar
    of numerics.rationals.decimal_value: the two agree on every value and every refusal."""
    import argparse

    from symkernel.cli import _number
    from symkernel.numerics import decimal_value

    try:
        expected = decimal_value(text, "")
    except sk.InvalidInputError as exc:
        with pytest.raises(argparse.ArgumentTypeError, match=re.escape(str(exc))):
            _number(text)
    else:
        got = _number(text)
        assert (got.numerator, got.denominator) == (expected.p, expected.q)
