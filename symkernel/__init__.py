"""symkernel: symbolic-numeric mean-field theory of deep networks.

The pipeline: activation -> Gaussian expectations (exact engine, numeric engine) -> Hermite
coefficients and kernels -> dynamics (kernel maps, isometry, mean field, SDE limits) ->
presentation (LaTeX, tables, plots, CLI); finite-width simulations check every prediction.

>>> import symkernel as sk
>>> sk.isometry_strength("relu").expr
(-4 + 3*pi)/(2*(-1 + pi))

``import symkernel`` itself is cheap (no SymPy), so ``symkernel --help`` answers at once: the
public names below are bound on first use (PEP 562 module ``__getattr__``), all of them together,
so the displays that :mod:`symkernel.present` registers exist as soon as any name is used.
"""
import importlib
import warnings

__version__ = "0.1.0"

#: Every public name: ``name -> (module, attribute)``; attribute ``None`` is the module itself.
#: A new public name (or subpackage, such as ``nn``) goes here, not in an eager import at the
#: top of this file: an eager import makes every ``symkernel --help`` pay for SymPy
#: (tests/test_cli.py::test_help_imports_no_heavy_module).
_API = {
    **{name: ("symkernel.core.symbols", name) for name in ("x", "rho", "alpha", "k")},
    "meanfield": ("symkernel.meanfield", None),
    "sde": ("symkernel.sde", None),
    "validate": ("symkernel.validate", None),
    "nn": ("symkernel.nn", None),
    "hermite_coefficient": ("symkernel.coefficients.hermite", "hermite_coefficient"),
    "hermite_coefficients": ("symkernel.coefficients.hermite", "hermite_coefficients"),
    "isometry_strength": ("symkernel.coefficients.strength", "isometry_strength"),
    **{name: ("symkernel.core.activations", name)
       for name in ("Activation", "activation", "known_activations")},
    "Quantity": ("symkernel.core.quantity", "Quantity"),
    **{name: ("symkernel.errors", name)
       for name in ("InvalidInputError", "NoClosedFormError", "NotSquareIntegrableError",
                    "PrecisionError", "SymbolicValueError", "SymkernelError",
                    "UnknownActivationError")},
    "expectation": ("symkernel.gaussian.expectation", "expectation"),
    "second_moment": ("symkernel.gaussian.expectation", "second_moment"),
    **{name: ("symkernel.kernels", name)
       for name in ("Kernel", "derivative_kernel", "dual_kernel", "kernel_map",
                    "mean_reduced_dual")},
    "joudaki_hofmann_2025": ("symkernel.papers.joudaki_hofmann_2025", None),
    "paper_tables": ("symkernel.papers", "paper_tables"),
    "papers": ("symkernel.papers", None),
    "latex": ("symkernel.present.latex", None),   # importing present registers the displays
    "tables": ("symkernel.present.tables", None),
    "plot": ("symkernel.present.plotting", None),
    "Table": ("symkernel.present.tables", "Table"),
    "simulate_mlp": ("symkernel.simulate", "simulate_mlp"),
    "gram": ("symkernel.theory.gram", None),
    **{name: ("symkernel.theory.dynamics", name)
       for name in ("KernelDynamics", "kernel_dynamics", "normalized_kernel_map",
                    "residual_kernel_map")},
    "isometry": ("symkernel.theory.gram", "isometry"),
    "isometry_gap": ("symkernel.theory.gram", "isometry_gap"),
    **{name: ("symkernel.theory.meanfield", name)
       for name in ("MeanField", "critical_curve", "depth_scales", "edge_of_chaos",
                    "mean_field")},
}

__all__ = [
    # symbols
    "x", "rho", "alpha", "k",
    # activations, expectations, Hermite coefficients, isometry strength
    "Activation", "activation", "known_activations", "expectation", "second_moment",
    "hermite_coefficient", "hermite_coefficients", "isometry_strength", "Quantity",
    # kernels and dynamics (Joudaki & Hofmann, AISTATS 2025)
    "Kernel", "dual_kernel", "mean_reduced_dual", "kernel_map", "derivative_kernel",
    "KernelDynamics", "kernel_dynamics", "residual_kernel_map", "normalized_kernel_map",
    # isometry of Gram matrices, simulation, validation (Joudaki, Daneshmand & Bach, NeurIPS 2023)
    "isometry", "isometry_gap", "gram", "simulate_mlp", "validate",
    # mean field (Pabari & Zhou), SDE limits (Hayou, TMLR 2023)
    "MeanField", "mean_field", "depth_scales", "edge_of_chaos", "critical_curve", "meanfield", "sde",
    # presentation
    "latex", "tables", "Table", "paper_tables", "plot", "joudaki_hofmann_2025",
    # deep networks on data: NNGP and NTK of composed architectures
    "nn",
    # errors
    "SymkernelError", "InvalidInputError", "UnknownActivationError", "NotSquareIntegrableError",
    "NoClosedFormError", "PrecisionError", "SymbolicValueError",
]

#: subpackages bound on first use only, outside the first-use load
_OPTIONAL = {}

#: old public names kept for one release (the papers were once numbered)
_RENAMED = {"seed000": "joudaki_hofmann_2025"}

_loading = False


def _bind(name):
    module, attribute = _API[name]
    value = importlib.import_module(module)
    value = value if attribute is None else getattr(value, attribute)
    globals()[name] = value
    return value


def _load():
    """Bind every public name (the cost ``import symkernel`` used to have: about 2 s)."""
    global _loading
    _loading = True   # a module imported here that reads symkernel.<name> gets it bound alone
    try:
        for name in _API:
            _bind(name)
    finally:
        _loading = False


def __getattr__(name):
    """A public name, bound on first use (all together); an old name, with a warning."""
    if name in _API:
        if _loading:
            return _bind(name)
        _load()
        return globals()[name]
    if name in _OPTIONAL:
        _load()
        try:
            value = importlib.import_module(_OPTIONAL[name])
        except ModuleNotFoundError as exc:
            if exc.name != _OPTIONAL[name]:
                raise
            raise AttributeError(f"module 'symkernel' has no attribute {name!r}") from None
        globals()[name] = value
        return value
    if name in _RENAMED:
        warnings.warn(f"symkernel.{name} is renamed symkernel.{_RENAMED[name]}; the old name "
                      "goes away in the next release", DeprecationWarning, stacklevel=2)
        return __getattr__(_RENAMED[name])
    raise AttributeError(f"module 'symkernel' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_API) | set(_OPTIONAL))
