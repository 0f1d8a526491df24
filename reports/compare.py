"""``cqrs-bench compare --html`` / ``--plot``: the comparison as a page, the trend as a plot."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from harness.results.compare import change_text, interval_text, value_text, verdict_text
from reports.plots import trend_plot
from reports.render import environment

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:auto;padding:1rem}"
    "table{border-collapse:collapse;font-size:.85rem}"
    "td,th{border:1px solid #ddd;padding:.25rem .5rem}td:not(:first-child){text-align:right}"
)


HEADER = ("metric", "A", "B", "change", "interval", "beyond noise?")


def _page(title: str, **values: Any) -> str:
    """The comparison page (``templates/compare.html.j2``), every value HTML-escaped."""
    return (
        environment()
        .get_template("compare.html.j2")
        .render(
            title=title,
            style=STYLE,
            header=HEADER,
            value_text=value_text,
            change_text=change_text,
            interval_text=interval_text,
            verdict_text=verdict_text,
            **values,
        )
    )


def write_compare_html(report: dict[str, Any], path: Path) -> Path:
    path.write_text(_page("cqrs-bench compare", report=report), encoding="utf-8")
    return path


def _png(trend: dict[str, Any]) -> bytes:
    fig = trend_plot(trend)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def write_trend_plot(trend: dict[str, Any], path: Path) -> Path:
    path.write_bytes(_png(trend))
    return path


def write_trend_html(trend: dict[str, Any], path: Path) -> Path:
    encoded = base64.b64encode(_png(trend)).decode()
    page = _page("cqrs-bench compare: trend", trend=trend, encoded=encoded)
    path.write_text(page, encoding="utf-8")
    return path
