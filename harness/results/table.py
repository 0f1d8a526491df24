"""The summary table printed at the end of a run."""

from __future__ import annotations

SHOWN = ("checkout", "dashboard_customers", "product_page")
