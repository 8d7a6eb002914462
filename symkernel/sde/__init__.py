"""Infinite-depth limits of finite-width ResNets (seed 002): Itô calculus, laws, simulation."""
