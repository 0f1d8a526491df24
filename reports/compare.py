"""``cqrs-bench compare --html`` / ``--plot``: the comparison as a page, the trend as a plot."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from harness.results.compare import change_text, interval_text, value_text, verdict_text
from reports.plots import trend_plot

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:auto;padding:1rem}"
    "table{border-collapse:collapse;font-size:.85rem}"
    "td,th{border:1px solid #ddd;padding:.25rem .5rem}td:not(:first-child){text-align:right}"
)


def _rows(rows: list[dict[str, Any]]) -> str:
    return "".join(
        f"<tr><td>{html.escape(r['metric'])}</td>"
        f"<td>{value_text(r['a'], 3)}</td><td>{value_text(r['b'], 3)}</td>"
        f"<td>{change_text(r)}</td><td>{html.escape(interval_text(r))}</td>"
        f"<td>{verdict_text(r)}</td></tr>"
        for r in rows
    )


HEADER = "".join(
    f"<th>{h}</th>" for h in ("metric", "A", "B", "change", "interval", "beyond noise?")
)


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{body}</body></html>"
    )


def write_compare_html(report: dict[str, Any], path: Path) -> Path:
    body = (
        f"<p>A: {html.escape(report['a'])} ({report['a_trials']} trial(s))"
        f"<br>B: {html.escape(report['b'])} ({report['b_trials']} trial(s))"
        f"<br>Noise from {html.escape(report['method'])}, {report['level']:.0%} intervals: "
        f"{report['beyond']} of {report['judged']} judged metrics beyond noise.</p>"
        f"<table><thead><tr>{HEADER}</tr></thead><tbody>{_rows(report['metrics'])}</tbody></table>"
    )
    path.write_text(_page("cqrs-bench compare", body), encoding="utf-8")
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
    steps = "".join(
        f"<h2>{html.escape(Path(step['a']).name)} &rarr; {html.escape(Path(step['b']).name)}</h2>"
        f"<p>Noise from {html.escape(step['method'])}.</p>"
        f"<table><thead><tr>{HEADER}</tr></thead><tbody>{_rows(step['rows'])}</tbody></table>"
        for step in trend["steps"]
    )
    body = f'<img alt="trend" style="max-width:100%" src="data:image/png;base64,{encoded}">{steps}'
    path.write_text(_page("cqrs-bench compare: trend", body), encoding="utf-8")
    return path
