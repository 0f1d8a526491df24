"""Results of a run: the model of its files, reading and writing them, summaries, gates, compare.

``reports`` reads runs through this package only; what it needs is exported here.
"""

from harness.results.model import (
    CheckoutDriver,
    CpuStats,
    EndpointStats,
    LagStats,
    PhaseSummary,
    ResultsFileError,
    RunInfo,
    Summary,
    SystemSummary,
)

__all__ = [
    "CheckoutDriver",
    "CpuStats",
    "EndpointStats",
    "LagStats",
    "PhaseSummary",
    "ResultsFileError",
    "RunInfo",
    "Summary",
    "SystemSummary",
]
