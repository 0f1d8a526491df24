"""cqrs-bench: measure a single-PostgreSQL shop against a CQRS shop under the same load."""

__version__ = "0.1.0"
