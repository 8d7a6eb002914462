"""The provenance labels of the evaluation paths of a dual kernel (``Kernel.result`` says which
path gave a value; :class:`~symkernel.kernels.numeric._Dual` names the path it takes)."""

CLOSED_PROVENANCE = "exact: iterated Gaussian integrals (inner over W, outer over X) by the exact engine"
INNER_PROVENANCE = ("certified: Arb ball quadrature (acb.integral) over X of the exact inner expectation "
                    "E_W[sigma(rho X + sqrt(1-rho^2) W)] at the exact rho, cut at the breakpoints b and "
                    "b/rho, Cauchy-Schwarz Gaussian tail bound")
INNER_ESTIMATED_PROVENANCE = ("estimated: 1D mpmath quadrature over X of the exact inner expectation "
                              "E_W[sigma(rho X + sqrt(1-rho^2) W)], two working precisions agree")
SERIES_PROVENANCE = ("estimated: Hermite series sum_k c_k^2 rho^k (trapezoidal c_k) with the Parseval tail "
                     "bound (E sigma^2 - sum_{k<=K} c_k^2)|rho|^(K+1), two working precisions agree; "
                     "certified where at most 800 proven c_k suffice (composite Gauss-Legendre panels, "
                     "Bernstein-ellipse bounds; Kernel.result says which)")
POLAR_PROVENANCE = ("certified: Arb ball quadrature (acb.integral) of one angle integral over the sign "
                    "sectors of the radial integral (closed form with erfi and Ei; Taylor and asymptotic "
                    "series with proven remainders), explicit bounds at the sector ends")
NESTED_PROVENANCE = "estimated: nested 2D mpmath quadrature over (X, W), two working precisions agree"
PANELS_PROVENANCE = ("estimated: nested Gauss-Legendre panels over (X, W) split at the breakpoints, "
                     "explicit Gaussian tail bound, two working precisions agree")
CLOSED_NUMERIC_PROVENANCE = "estimated: closed form of sigma_hat (mpmath, two working precisions) with numeric coefficients"
