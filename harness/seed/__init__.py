"""Deterministic datasets: generation, binary COPY loading, and the dataset cache."""
