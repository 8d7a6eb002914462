"""Gaussian expectations ``E[f(Z)]``, ``Z ~ N(0, 1)`` (docs/theory.md §1): the exact engine (closed
forms, no ``sympy.integrate``), the numeric engine (mpmath, to the digits asked) and both together.
"""
