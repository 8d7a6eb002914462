"""Normalized Hermite coefficients c_k = E[σ(Z) he_k(Z)] (closed form in k where one exists) and
the isometry strength β_σ of Joudaki, Daneshmand & Bach (NeurIPS 2023)."""
