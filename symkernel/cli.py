r"""The ``symkernel`` command line (also ``python -m symkernel``).

Examples::

    symkernel tables                       # reproduce every published table the package knows
    symkernel tables --latex --standalone > tables.tex
    symkernel coeffs relu -K 6             # Hermite coefficients c_0..c_5
    symkernel beta sin --gain alpha        # closed form in the gain
    symkernel kernel relu --rho 0.5 --dps 30
    symkernel dynamics gelu                # Theorem 1 of Joudaki & Hofmann (AISTATS 2025): case, rho*, rate
    symkernel meanfield tanh --sigma-w2 1.5 --sigma-b2 0.05
    symkernel eoc tanh --sigma-b2 0.05     # edge of chaos
    symkernel check relu --simulate        # exact vs numeric engine, theory vs finite width

Bad input prints one line on stderr and exits with status 2 (never a traceback); ``check`` exits
with status 1 when a check fails.

JSON schema (``--json``, schema ``"symkernel-cli/1"``; stable: keys are only ever added)::

    {"schema": "symkernel-cli/1", "command": str, "activation": str (as typed),
     "sigma": str (the SymPy expression of sigma), "gain": str, "dps": int,
     "quantities": [{"name": str, "symbol": str (LaTeX), "exact": bool,
                     "kind": "exact" | "certified" | "estimated", "provenance": str,
                     "value": str (dps correct digits; absent when a symbol is left free),
                     "error": str (absolute error bound of value; numeric values only),
                     "expr": str, "latex": str (both only when exact)}],
     ... command-specific keys:
     kernel:    "kernel": {"name", "symbol", "exact", "expr", "latex", "provenance"},
                "values": [{"rho": str, "value": str}]
     dynamics:  "case": int, "notes": [str], "sequence": [float] (with --rho0)
     check:     "checks": [{"name", "exact", "numeric", "digits", "ok"}], "simulation": {...},
                "ok": bool}
    tables --json: {"schema", "command": "tables", "dps", "tables": [Table.as_dict()],
                    "disagreements": int}
"""

import argparse
import importlib
import json
import os
import re
import sys
from fractions import Fraction

# The command line parses and checks its arguments before it imports SymPy or any layer of the
# package, so --help and a mistyped option answer at once: ``symkernel`` binds its public names
# on first use (PEP 562, symkernel/__init__.py), and SymPy and mpmath are imported on first
# attribute access through _OnFirstUse.
import symkernel as sk
from symkernel import __version__
from symkernel.errors import SymkernelError


class _OnFirstUse:
    """A third-party module imported when an attribute is first read (``sp.Rational``)."""

    def __init__(self, name):
        self._name = name

    def __getattr__(self, attribute):
        return getattr(importlib.import_module(self._name), attribute)


sp = _OnFirstUse("sympy")
mpmath = _OnFirstUse("mpmath")
# two layers of the package that ``symkernel tables`` uses, loaded the same way (on first use)
progress = _OnFirstUse("symkernel.core.progress")
forked_rows = _OnFirstUse("symkernel.papers.forked_rows")

SCHEMA = "symkernel-cli/1"

#: the names of ``symkernel.present.latex.NOTATIONS`` (known here without importing SymPy;
#: tests/test_cli.py checks that the two agree)
NOTATIONS = ("default", "joudaki_daneshmand_bach_2023", "joudaki_hofmann_2025", "poole")

EPILOG = """examples:
  symkernel tables                         all published tables, derived vs published
  symkernel tables --only "Joudaki, Daneshmand & Bach (NeurIPS 2023)" --markdown   Markdown (--latex: booktabs tabulars)
  symkernel coeffs relu -K 6               c_0..c_5 exactly
  symkernel coeffs "x**3 - x" -K 5 --json  any expression in x
  symkernel beta tanh --dps 40             no closed form: 40 correct digits
  symkernel beta sin --gain alpha --latex  closed form in the gain, as LaTeX
  symkernel kernel erf --rho 0.3           kernel map kappa and its value at rho = 0.3
  symkernel dynamics relu --rho0 0.2 --depth 5
  symkernel meanfield tanh --sigma-w2 1.5 --sigma-b2 0.05
  symkernel eoc erf --sigma-b2 0.1
  symkernel check gelu -K 4 --simulate

activations: a registry name (symkernel activations lists them) or an expression in x such as
"x*erf(x)" or "max(x, 0)**2"; quote expressions in the shell.
"""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line (exit 2)."""

    def error(self, message):
        self.exit(2, f"symkernel: error: {message} (see '{self.prog} --help')\n")


# ------------------------------------------------------------------------------ arguments
#: a number on the command line: an integer, a decimal with an optional exponent, or p/q
_NUMBER = re.compile(r"\s*([+-]?)(\d+(?:\.\d*)?|\.\d+)(?:[eE]([+-]?\d+))?(?:\s*/\s*(\d+))?\s*")
#: the largest decimal exponent a number may carry (1e999999999 would be a billion-digit integer)
MAX_EXPONENT = 1000


def _number(text):
    """An exact number (a Fraction; SymPy after parsing) from ``text`` ("0.3", "-2", "1e-5",
    "5/6"), or a one-line error.  The reading of
    :func:`symkernel.numerics.rationals.decimal_value` (same grammar, same exponent limit;
    tests/test_bad_input.py checks they agree), written without SymPy: arguments are checked
    before any heavy module is imported."""
    m = _NUMBER.fullmatch(text)
    if m is None:
        raise argparse.ArgumentTypeError(
            f"expected a number such as 0.3, 1e-5 or 5/6, got {text!r}")
    sign, digits, exponent, denominator = m.groups()
    if exponent is not None and abs(int(exponent)) > MAX_EXPONENT:
        raise argparse.ArgumentTypeError(
            f"the exponent of {text.strip()} is beyond {MAX_EXPONENT} in size")
    if denominator is not None and int(denominator) == 0:
        raise argparse.ArgumentTypeError(f"{text.strip()} divides by zero")
    value = Fraction(digits) * Fraction(10) ** int(exponent or 0)
    if denominator is not None:
        value /= int(denominator)
    return -value if sign == "-" else value


def _number_text(value):
    """A number as typed back: ``5/6`` stays exact; a rational with a huge denominator
    (``1e-1000``) is shown in scientific notation, exactly (its denominator is a power of 10)."""
    text = str(value)
    if len(text) <= 30:
        return text
    p, q = int(value.p), int(value.q)
    decimal = q == 10 ** (len(str(q)) - 1)       # every digit typed: 0.99999999999999999 (not 1.0)
    digits = len(str(abs(p)).rstrip("0")) if decimal else 30
    with mpmath.workdps(digits + 10):
        return mpmath.nstr(mpmath.mpf(p) / q, min(digits, 60))


class _Symbol:
    """A name typed for a value (``--gain alpha``, ``--param slope=a``): a positive SymPy symbol
    after parsing."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name


def _gain(text):
    if text.strip() == "alpha":
        return _Symbol("alpha")
    try:
        value = _number(text)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"gain must be a positive number or 'alpha': {exc}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"gain must be positive, got {text}")
    return value


def _param(text):
    """``NAME=VALUE`` for a registry parameter (``slope=0.2``; a value may also be a name, which
    stays a positive symbol)."""
    name, sep, value = text.partition("=")
    name, value = name.strip(), value.strip()
    if not sep or not name.isidentifier() or not value:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE such as slope=0.2, got {text!r}")
    if value.isidentifier():
        return name, _Symbol(value)
    return name, _number(value)


def _positive(text):
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _exact(value):
    """A parsed argument as SymPy: a Fraction as a Rational, a :class:`_Symbol` as a positive
    symbol (``alpha`` is ``sk.alpha``); lists and tuples item by item; anything else as it is."""
    if isinstance(value, Fraction):
        return sp.Rational(value.numerator, value.denominator)
    if isinstance(value, _Symbol):
        return sp.Symbol(value.name, positive=True)
    if isinstance(value, (list, tuple)):
        return type(value)(_exact(v) for v in value)
    return value


def _activation(args):
    return sk.activation(args.activation, gain=args.gain, **dict(args.param))


# ------------------------------------------------------------------------------ output
def _record(q, dps, name=None):
    record = {
        "name": name or q.plain_symbol,
        "symbol": q.symbol,
        "exact": q.exact,
        "kind": q.kind,
        "provenance": q.provenance,
    }
    if not q.free_symbols:
        record["value"] = q.text(dps)
        if not q.exact:
            record["error"] = mpmath.nstr(q.error(dps), 3)
    if q.exact:
        record["expr"] = sp.sstr(q.expr)
        record["latex"] = q.latex()
    return record


def _envelope(args, act, **extra):
    out = {
        "schema": SCHEMA,
        "command": args.command,
        "activation": args.activation,
        "sigma": sp.sstr(act.expr),
        "gain": str(args.gain),
        "dps": args.dps,
    }
    out.update(extra)
    return out


def _show(quantities, args, act, names=None, **extra):
    """Print quantities as text, LaTeX (--latex) or JSON (--json)."""
    names = names or [None] * len(quantities)
    if args.json:
        records = [_record(q, args.dps, n) for q, n in zip(quantities, names)]
        print(json.dumps(_envelope(args, act, quantities=records, **extra), indent=2))
        return
    for q, n in zip(quantities, names):
        if args.latex:
            print(sk.latex.latex(q, digits=args.dps, notation=args.notation))
            continue
        label = n or q.plain_symbol
        value = "" if q.free_symbols else q.text(args.dps)
        if q.exact:
            shown = sp.sstr(q.expr)
            plain = q.expr.is_Rational or q.expr.is_infinite or not value
            text = shown if plain else f"{shown}  = {value}"
        else:
            text = value
        print(f"{label:<12} {text}   [{q.kind}]")


# ------------------------------------------------------------------------------ commands
def cmd_activations(args):
    names = sorted(sk.known_activations())
    print(
        json.dumps({"schema": SCHEMA, "command": "activations", "names": names})
        if args.json
        else "\n".join(names)
    )


def cmd_coeffs(args):
    act = _activation(args)
    _show(sk.hermite_coefficients(act, args.K), args, act)


def cmd_beta(args):
    act = _activation(args)
    _show([sk.isometry_strength(act)], args, act, names=["beta"])


_KERNELS = {
    "map": "kernel_map",
    "dual": "dual_kernel",
    "reduced": "mean_reduced_dual",
    "derivative": "derivative_kernel",
}


def cmd_kernel(args):
    act = _activation(args)
    kern = getattr(sk, _KERNELS[args.which])(act)
    # all the bits computed, so that printing rounds once (a value rounded to a binary precision of
    # dps digits, as kern(r, dps) gives, printed to dps digits, can round twice)
    values = [(r, kern.result(_rho_argument(kern, r, args.dps), dps=args.dps).value) for r in args.rho]
    if args.json:
        info = {
            "name": kern.name,
            "symbol": kern.symbol,
            "exact": kern.exact,
            "expr": sp.sstr(kern.expr) if kern.exact else None,
            "latex": kern.latex() if kern.exact else None,
            "provenance": kern.provenance,
        }
        print(
            json.dumps(
                _envelope(
                    args,
                    act,
                    kernel=info,
                    quantities=[],
                    values=[{"rho": _number_text(r), "value": mpmath.nstr(v, args.dps)} for r, v in values],
                ),
                indent=2,
            )
        )
        return
    if args.latex:
        print(sk.latex.latex(kern, digits=args.dps, notation=args.notation))
        for r, v in values:
            print(f"{kern.symbol}({sp.latex(r)}) = {sk.latex.format_number(v, args.dps)}")
        return
    if kern.exact:
        print(f"{kern.name} of {sp.sstr(act.expr)}:  {sp.sstr(kern.expr)}   [exact]")
    else:
        series = sp.sstr(kern.series(6).evalf(8))
        print(
            f"{kern.name} of {sp.sstr(act.expr)}: no closed form; series {series} + ...   "
            f"[{kern.provenance}]"
        )
    for r, v in values:
        print(f"  at rho = {_number_text(r)}: {mpmath.nstr(v, args.dps)}")


def _rho_argument(kern, r, dps):
    # A SymPy rational goes to the closed form exactly; for the numeric paths it is passed as an mpf
    # with 40 guard digits (kernels._rho_value treats a SymPy rho as one of -1, 0, 1 there).
    if kern.exact or r in (-1, 0, 1):
        return r
    with mpmath.workdps(dps + 40):
        return mpmath.mpf(int(r.p)) / int(r.q)


def cmd_dynamics(args):
    act = _activation(args)
    dyn = sk.kernel_dynamics(act)
    qs = [dyn.fixed_point, dyn.rate, dyn.kappa_0, dyn.kappa_prime_0, dyn.kappa_prime_1]
    names = ["rho*", "rate", "kappa(0)", "kappa'(0)", "kappa'(1)"]
    if dyn.case == 4:        # the printed rate does not make case 4's bound true (docs/theory.md §36)
        qs, names = qs + [dyn.valid_rate], names + ["valid rate"]
    extra = {"case": dyn.case, "notes": list(dyn.notes)}
    if args.rho0 is not None:
        extra["sequence"] = [float(v) for v in dyn.sequence(float(args.rho0), args.depth)]
    if not args.json and not args.latex:
        print(f"Theorem 1 of Joudaki & Hofmann (AISTATS 2025), case {dyn.case}, for the kernel map of {sp.sstr(act.expr)}")
    _show(qs, args, act, names=names, **extra)
    if not args.json:
        for note in dyn.notes:
            print(f"note: {note}")
        if "sequence" in extra:
            print("rho_l (float64): " + ", ".join(f"{v:.6g}" for v in extra["sequence"]))


def cmd_meanfield(args):
    act = _activation(args)
    mf = sk.mean_field(act, args.sigma_w2, args.sigma_b2, q0=args.q0)
    qs = [mf.q_star, mf.chi_1, mf.xi_q, mf.xi_c]
    _show(
        qs,
        args,
        act,
        names=["q*", "chi_1", "xi_q", "xi_c"],
        sigma_w2=str(args.sigma_w2),
        sigma_b2=str(args.sigma_b2),
        q0=str(args.q0),
    )


def cmd_eoc(args):
    act = _activation(args)
    w, q = sk.edge_of_chaos(act, sigma_b2=args.sigma_b2)
    _show([w, q], args, act, names=["sigma_w2", "q*"], sigma_b2=str(args.sigma_b2))


def cmd_check(args):
    """Exact engine vs numeric engine for c_k, E[sigma^2] and beta; optional finite-width check."""
    act = _activation(args)
    dps = args.dps
    checks = [
        {"name": c.name,
         "exact": None if c.exact is None else mpmath.nstr(c.exact, dps),
         "numeric": mpmath.nstr(c.numeric, dps), "digits": c.digits, "ok": c.ok,
         "absolute_bound": None if c.bound is None else mpmath.nstr(c.bound, 3)}
        for c in sk.validate.engines(act, args.K, dps)
    ]
    simulation = None
    if args.simulate:

        width, seeds = sk.validate.meanfield.plan(args.resolution)
        width = args.width or width
        seeds = args.seeds or seeds
        # weights="gram": each layer's pre-activations drawn from their exact Gaussian law
        # given the layer input (the law of W y + b), 2N normals a layer instead of N^2
        v = sk.validate.kernel_sequence(act, args.rho0, width=width, depth=args.depth, seeds=range(seeds),
                            weights="gram")
        args.width, args.seeds = width, seeds
        simulation = {
            "statistic": "correlation",
            "rho0": float(args.rho0),
            "width": width,
            "depth": args.depth,
            "seeds": seeds,
            "resolution": float(max(v.stderr[1:])) if args.depth else 0.0,
            "theory": [float(t) for t in v.theory],
            "mean": [float(m) for m in v.mean],
            "stderr": [float(s) for s in v.stderr],
            "agree": [bool(a) for a in v.agree],
            "ok": bool(v.all_agree),
        }
    ok = all(c["ok"] is not False for c in checks) and (simulation is None or simulation["ok"])
    if args.json:
        print(
            json.dumps(
                _envelope(args, act, quantities=[], checks=checks, simulation=simulation, ok=ok),
                indent=2,
            )
        )
        return 0 if ok else 1
    print(
        f"exact engine vs numeric engine (Arb enclosure, else mpmath quadrature), {dps} digits, "
        f"sigma = {sp.sstr(act.expr)}"
    )
    for c in checks:
        if c["exact"] is None:
            print(f"  {c['name']:<11} numeric only (no closed form): {c['numeric']}")
        else:
            mark = "OK  " if c["ok"] else "FAIL"
            if c["absolute_bound"] is not None:   # an exact 0 has no relative digits
                print(f"  [{mark}] {c['name']:<11} 0 (exact)  numeric |value| <= {c['absolute_bound']} "
                      f"(absolute enclosure; 0 has no relative digits)")
                continue
            print(f"  [{mark}] {c['name']:<11} {c['exact']}  agree to {c['digits']} digits")
    if simulation is not None:
        print(
            f"mean-field correlation map vs finite-width MLP (width {args.width}, "
            f"{args.seeds} seeds, layer norm + centering; agreement within 4 standard errors; "
            f"resolution: standard error up to {simulation['resolution']:.1e})"
        )
        for layer, (t, m, s, a) in enumerate(
            zip(simulation["theory"], simulation["mean"], simulation["stderr"], simulation["agree"])
        ):
            print(
                f"  [{'OK  ' if a else 'FAIL'}] layer {layer}: theory {t:.6f}  "
                f"simulated {m:.6f} ± {s:.1e}"
            )
    print("all checks passed" if ok else "SOME CHECKS FAILED")
    return 0 if ok else 1


def _workers():
    """2 where this process may use two CPUs (the tables' parts are shared with a forked
    process), else 1."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:      # pragma: no cover - not on Linux
        cpus = os.cpu_count() or 1
    return min(2, cpus)


def _table_parts(build, digits):
    """``(items, part, assemble, order)`` of one table builder: its rows where it offers them
    (``build.parts``, e.g. Joudaki & Hofmann's Table S.1), else the whole table as one part."""
    parts = getattr(build, "parts", None)
    if parts is not None:
        return parts(digits=digits)
    return [None], lambda _: build(), lambda results: results[0], [0]


def _render(t, args):
    """The text ``symkernel tables`` prints for one table (text or Markdown), or None (JSON,
    LaTeX: printed at the end); the JSON and LaTeX forms are computed too, so that a table built
    in another process carries every value they show."""
    if args.json:
        t.as_dict(args.dps)
        return None
    if args.latex:
        t.to_latex(digits=args.dps, notation=args.notation, float_env=True)
        return None
    return t.to_markdown(args.dps, args.notation) if args.markdown else t.to_text(args.dps)


def _built_tables(builders, args):
    """The tables, built with their parts shared between this process and a forked one
    (:func:`symkernel.papers.forked_rows.forked_map`: the same tables as in series), each printed
    (text, Markdown) as soon as it and the tables before it are ready."""
    plans = [_table_parts(build, args.dps) for _, build in builders]
    units = []
    for ti, (items, _, _, order) in enumerate(plans):
        units += [(ti, j) for j in order]
    results = {}
    tables, shown = [None] * len(plans), [0]

    def run(unit):
        ti, j = unit
        items, part, _, _ = plans[ti]
        out = part(items[j])
        if len(items) == 1:             # a whole table: render it where it was built
            _render(out, args)
        return out

    def arrived(k, out):
        results[units[k]] = out
        bar.update(1)
        while shown[0] < len(plans):
            ti = shown[0]
            items, _, assemble, _ = plans[ti]
            if any((ti, j) not in results for j in range(len(items))):
                return
            tables[ti] = assemble([results[(ti, j)] for j in range(len(items))])
            text = _render(tables[ti], args)
            if text is not None:
                print(text)
                print(flush=True)
            shown[0] += 1

    if sys.stderr.isatty():
        print(f"symkernel: computing {len(plans)} table{'s' if len(plans) != 1 else ''} "
              f"({'; '.join(n for n, _ in builders)}) ...", file=sys.stderr, flush=True)
    bar = progress.progress_bar(len(units), desc="tables")
    try:
        forked_rows.forked_map(run, units, _workers(), on_result=arrived)
    finally:
        bar.close()
    return tables


def cmd_tables(args):
    """Each table is printed as soon as it is computed (Joudaki & Hofmann (AISTATS 2025) Table S.1 is
    the slow one; where two CPUs are free the tables and Table S.1's rows are shared with a forked
    process)."""
    builders = sk.papers.table_builders()
    if args.only:
        wanted = [w.lower() for w in args.only]
        builders = [(n, b) for n, b in builders if any(w in n.lower() for w in wanted)]
        if not builders:
            raise _BadInput(
                f"no table matches {', '.join(args.only)}; known: "
                + "; ".join(n for n, _ in sk.papers.table_builders())
            )
    tables = _built_tables(builders, args)
    disagreements = sum(len(t.disagreements) for t in tables)
    if args.json:
        print(
            json.dumps(
                {
                    "schema": SCHEMA,
                    "command": "tables",
                    "dps": args.dps,
                    "tables": [t.as_dict(args.dps) for t in tables],
                    "disagreements": disagreements,
                },
                indent=2,
            )
        )
        return 0
    if args.latex:
        if args.standalone:   # the document scales a table wider than the page down to it
            print(sk.latex.document(*tables, digits=args.dps, notation=args.notation))
            return 0
        blocks = [
            t.to_latex(digits=args.dps, notation=args.notation, float_env=True) for t in tables
        ]
        print("\n\n".join(blocks))
        return 0
    rows = sum(len(t.rows) for t in tables)
    print(
        f"{disagreements} of {rows} rows in {len(tables)} table{'s' if len(tables) != 1 else ''} "
        "disagree with the published values"
        + (": see the [DIFF] lines above for which entries and why." if disagreements else ".")
    )
    return 0


# ------------------------------------------------------------------------------ parser
class _BadInput(SymkernelError):
    pass


#: bounds of the integer options, checked before any work starts: (least, most)
LIMITS = {"K": (1, 2000), "depth": (0, 100_000), "width": (1, 4096), "seeds": (2, 1000),
          "dps": (1, 1000)}


def _output_options(p, dps_help="significant digits of numeric values (default 15)"):
    p.add_argument("--dps", type=int, default=15, help=dps_help)
    p.add_argument("--json", action="store_true",
                   help="machine-readable output (schema in the symkernel.cli docstring)")
    p.add_argument("--latex", action="store_true", help="LaTeX output")
    p.add_argument("--notation", default="default",
                   help="LaTeX notation: default, joudaki_hofmann_2025, "
                   "joudaki_daneshmand_bach_2023 (He_k), poole (rho -> c)")


def _activation_options(p):
    p.add_argument("activation", help="registry name (relu, tanh, ...) or an expression in x "
                   "(and the gain alpha)")
    p.add_argument("--gain", type=_gain, default=Fraction(1),
                   help="gain alpha > 0, sigma(alpha x); a number or 'alpha' for a symbolic gain")
    p.add_argument("--param", type=_param, action="append", default=[], metavar="NAME=VALUE",
                   help="a registry parameter, e.g. leaky_relu --param slope=0.2 (repeatable)")
    _output_options(p)


def _tables_options(p):
    _output_options(p, "digits of the numeric value columns (default 15)")
    p.add_argument("--markdown", action="store_true", help="Markdown tables")
    p.add_argument("--standalone", action="store_true", help="with --latex: a complete document")
    p.add_argument("--only", action="append", default=[], metavar="TEXT",
                   help="only the tables whose name contains TEXT (e.g. 'Joudaki & Hofmann', "
                   "'S.1'; repeatable)")


def _coeffs_options(p):
    _activation_options(p)
    p.add_argument("-K", type=int, default=6, help="number of coefficients (default 6)")


def _kernel_options(p):
    _activation_options(p)
    p.add_argument("--which", choices=sorted(_KERNELS), default="map",
                   help="map: kappa = sigma_hat/sigma_hat(1) (default); dual: sigma_hat; "
                   "reduced: sigma_bar; derivative: E[sigma'(X) sigma'(Y)]")
    p.add_argument("--rho", type=_number, action="append", default=[],
                   help="evaluate at this correlation in [-1, 1] (repeatable)")


def _dynamics_options(p):
    _activation_options(p)
    p.add_argument("--rho0", type=_number, default=None, help="also print rho_0..rho_depth")
    p.add_argument("--depth", type=int, default=10, help="layers for --rho0 (default 10)")


def _meanfield_options(p):
    _activation_options(p)
    p.add_argument("--sigma-w2", type=_positive, required=True, help="weight variance sigma_w^2")
    p.add_argument("--sigma-b2", type=_number, default=Fraction(0),
                   help="bias variance (default 0)")
    p.add_argument("--q0", type=_positive, default=Fraction(1),
                   help="input squared length q^0 (default 1): which fixed point it flows to")


def _eoc_options(p):
    _activation_options(p)
    p.add_argument("--sigma-b2", type=_number, default=Fraction(1, 20),
                   help="bias variance sigma_b^2 (default 0.05)")


def _check_options(p):
    _activation_options(p)
    p.add_argument("-K", type=int, default=4, help="number of coefficients to check (default 4)")
    p.add_argument("--simulate", action="store_true", help="also simulate a finite-width MLP")
    p.add_argument("--rho0", type=float, default=0.5, help="input correlation (default 0.5)")
    p.add_argument("--resolution", type=float, default=0.002,
                   help="standard error the simulation aims at; it chooses --width and "
                   "--seeds (default 0.002: width 2000, 250 networks)")
    p.add_argument("--width", type=int, default=None, help="network width (default: from "
                   "--resolution)")
    p.add_argument("--depth", type=int, default=4, help="layers (default 4)")
    p.add_argument("--seeds", type=int, default=None, help="independent networks (default: from "
                   "--resolution)")


def _activations_options(p):
    p.add_argument("--json", action="store_true")


#: name -> (help, command, options, examples)
COMMANDS = {
    "tables": ("reproduce the published tables, derived and published side by side",
               cmd_tables, _tables_options,
               ["symkernel tables", "symkernel tables --only 'Joudaki & Hofmann' --markdown",
                "symkernel tables --latex --standalone > tables.tex && pdflatex tables.tex"]),
    "coeffs": ("normalized Hermite coefficients c_0..c_{K-1}", cmd_coeffs, _coeffs_options,
               ["symkernel coeffs relu -K 6", "symkernel coeffs tanh -K 4 --dps 30",
                "symkernel coeffs exp --gain alpha --latex"]),
    "beta": ("isometry strength beta_sigma (Joudaki, Daneshmand & Bach, NeurIPS 2023, Def. 3)",
             cmd_beta, _activation_options,
             ["symkernel beta relu", "symkernel beta tanh --dps 40",
              "symkernel beta sin --gain alpha"]),
    "kernel": ("kernel map kappa (or the dual / mean-reduced / derivative kernel)",
               cmd_kernel, _kernel_options,
               ["symkernel kernel relu", "symkernel kernel tanh --rho 0.5 --dps 20",
                "symkernel kernel gelu --which dual --latex"]),
    "dynamics": ("Theorem 1 of Joudaki & Hofmann (AISTATS 2025): case, fixed point rho*, rate",
                 cmd_dynamics, _dynamics_options,
                 ["symkernel dynamics relu", "symkernel dynamics tanh --dps 30",
                  "symkernel dynamics gelu --rho0 0.1 --depth 10"]),
    "meanfield": ("mean-field q*, chi_1 and depth scales xi_q, xi_c (Pabari & Zhou)",
                  cmd_meanfield, _meanfield_options,
                  ["symkernel meanfield tanh --sigma-w2 1.5 --sigma-b2 0.05"]),
    "eoc": ("edge of chaos: sigma_w^2 and q* with chi_1 = 1 at a bias variance",
            cmd_eoc, _eoc_options,
            ["symkernel eoc tanh --sigma-b2 0.05", "symkernel eoc relu --sigma-b2 0"]),
    "check": ("check one activation two ways: exact vs numeric engine (c_k, E sigma^2, beta), "
              "and with --simulate the kernel map vs a finite-width network",
              cmd_check, _check_options,
              ["symkernel check relu", "symkernel check gelu -K 4 --simulate --width 256"]),
    "activations": ("list the registry names", cmd_activations, _activations_options,
                    ["symkernel activations"]),
}


def build_parser():
    parser = _Parser(
        prog="symkernel",
        description="Exact and high-precision mean-field theory of deep networks: Hermite "
        "coefficients, kernels, isometry strength, kernel dynamics, edge of chaos, and the "
        "published tables.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"symkernel {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=_Parser)
    for name, (help_text, func, options, examples) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text,
                           epilog="examples:\n" + "\n".join(f"  {e}" for e in examples),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(func=func)
        options(p)
    return parser


def _check_arguments(parser, args):
    """Refuse out-of-range options before any work starts (one line, exit status 2)."""
    for name, (least, most) in LIMITS.items():
        value = getattr(args, name, None)
        if value is not None and not least <= value <= most:
            flag = "-K" if name == "K" else f"--{name}"
            parser.exit(2, f"symkernel: error: {flag} must be an integer in {least}..{most}, "
                        f"got {value}\n")
    if getattr(args, "latex", False) and getattr(args, "json", False):
        parser.exit(2, "symkernel: error: choose one of --json and --latex\n")
    if hasattr(args, "notation"):
        if args.notation not in NOTATIONS:
            parser.exit(2, f"symkernel: error: unknown notation {args.notation!r}; "
                        f"known: {', '.join(NOTATIONS)}\n")


def main(argv=None):
    """Run the command line; returns the exit status (0 ok, 1 a check failed, 2 bad input,
    3 an internal error — a bug to report)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_arguments(parser, args)
    try:
        for key, value in vars(args).items():
            setattr(args, key, _exact(value))
        return args.func(args) or 0
    except SymkernelError as exc:
        print(f"symkernel: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the reader went away (``symkernel tables | head``): stop quietly, as Unix tools do, and
        # keep Python from reporting the failed flush of stdout at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141      # 128 + SIGPIPE, what a shell reports for a tool killed by a closed pipe
    except Exception as exc:  # noqa: BLE001 - anything else is a bug: one line, not a traceback
        if os.environ.get("SYMKERNEL_TRACEBACK"):
            raise
        print(f"symkernel: internal error (a bug; please report it): {type(exc).__name__}: "
              f"{' '.join(str(exc).split())} (SYMKERNEL_TRACEBACK=1 shows the traceback)",
              file=sys.stderr)
        return 3
