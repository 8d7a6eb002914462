"""The ``symkernel`` command line (also ``python -m symkernel``).

Examples::

    symkernel tables                 # reproduce every published table the package knows
    symkernel coeffs relu -K 6       # Hermite coefficients c_0..c_5
    symkernel coeffs tanh -K 4 --dps 30
    symkernel beta sin --gain 2 --json

Bad input prints one line on stderr and exits with status 2; never a traceback.
"""
import argparse
import json
import sys

import mpmath
import sympy as sp

from .errors import SymkernelError

EPILOG = """examples:
  symkernel tables
  symkernel coeffs relu -K 6
  symkernel coeffs "x**3 - x" -K 5 --json
  symkernel beta tanh --dps 40
  symkernel beta sin --gain 1.5 --latex
"""


def _gain(text):
    try:
        value = sp.Rational(text)
    except (TypeError, ValueError, SyntaxError):
        raise argparse.ArgumentTypeError(f"gain must be a positive number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"gain must be positive, got {text}")
    return value


def _quantity_record(q, dps):
    record = {"symbol": q.symbol, "exact": q.exact, "provenance": q.provenance,
              "value": mpmath.nstr(q.value(dps), dps)}
    if q.exact:
        record["expr"] = sp.sstr(q.expr)
        record["latex"] = q.latex()
    return record


def _print_quantities(quantities, args):
    records = [_quantity_record(q, args.dps) for q in quantities]
    if args.json:
        print(json.dumps({"activation": args.activation, "gain": str(args.gain), "dps": args.dps,
                          "quantities": records}, indent=2))
        return
    for q, r in zip(quantities, records):
        if args.latex:
            print(q.latex(digits=args.dps, equation=True))
        else:
            shown = f"{r['expr']}  = " if q.exact else ""
            print(f"{q.plain_symbol:<10} {shown}{r['value']}   [{'exact' if q.exact else 'numeric'}]")


def cmd_coeffs(args):
    from .activations import activation
    from .hermite import hermite_coefficients
    _print_quantities(hermite_coefficients(activation(args.activation, gain=args.gain), args.K), args)


def cmd_beta(args):
    from .activations import activation
    from .strength import isometry_strength
    _print_quantities([isometry_strength(activation(args.activation, gain=args.gain))], args)


def table_sections():
    """(title, callable returning rows with .agrees, formatter) for every published table."""
    from .papers import seed001
    return [("Seed 001, Table 2: isometry strength", seed001.table2, seed001.format_rows),
            ("Seed 001, Table B.1: isometry strength against the gain", seed001.table_b1,
             seed001.format_rows)]


def cmd_tables(args):
    disagreements = 0
    payload = []
    for title, rows_fn, fmt in table_sections():
        rows = rows_fn()
        disagreements += sum(not r.agrees for r in rows)
        if args.json:
            payload.append({"table": title, "rows": [r.as_dict() for r in rows]})
        else:
            print(fmt(title, rows))
            print()
    if args.json:
        print(json.dumps(payload, indent=2))
    else:
        print(f"{disagreements} entr{'y' if disagreements == 1 else 'ies'} disagree with the published values.")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="symkernel", description=__doc__.split("\n")[0],
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p):
        p.add_argument("activation", help="registry name (e.g. relu, tanh) or an expression in x")
        p.add_argument("--gain", type=_gain, default=sp.Integer(1), help="gain alpha > 0: sigma(alpha x)")
        p.add_argument("--dps", type=int, default=15, help="significant digits of numeric values")
        p.add_argument("--json", action="store_true", help="machine-readable output")
        p.add_argument("--latex", action="store_true", help="LaTeX output")

    p = sub.add_parser("coeffs", help="normalized Hermite coefficients c_0..c_{K-1}")
    common(p)
    p.add_argument("-K", type=int, default=6, help="number of coefficients (default 6)")
    p.set_defaults(func=cmd_coeffs)
    p = sub.add_parser("beta", help="isometry strength beta_sigma (seed 001, Def. 3)")
    common(p)
    p.set_defaults(func=cmd_beta)
    p = sub.add_parser("tables", help="reproduce the published tables, derived and published side by side")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_tables)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "dps", 15) < 1:
        parser.exit(2, "symkernel: error: --dps must be a positive integer\n")
    try:
        return args.func(args) or 0
    except SymkernelError as exc:
        print(f"symkernel: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
