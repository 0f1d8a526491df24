"""``cqrs-bench compare --html``: the comparison as a page."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from harness.results.compare import change_text, value_text, verdict_text


def write_compare_html(report: dict[str, Any], path: Path) -> Path:
    body = "".join(
        f"<tr><td>{html.escape(r['metric'])}</td>"
        f"<td>{value_text(r['a'], 3)}</td><td>{value_text(r['b'], 3)}</td>"
        f"<td>{change_text(r)}</td><td>{verdict_text(r)}</td></tr>"
        for r in report["metrics"]
    )
    style = (
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:auto;padding:1rem}"
        "table{border-collapse:collapse;font-size:.85rem}"
        "td,th{border:1px solid #ddd;padding:.25rem .5rem}td:not(:first-child){text-align:right}"
    )
    header = "".join(f"<th>{h}</th>" for h in ("metric", "A", "B", "change", "beyond noise"))
    path.write_text(
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>cqrs-bench compare</title><style>{style}</style></head><body>"
        f"<h1>cqrs-bench compare</h1><p>A: {html.escape(report['a'])}"
        f"<br>B: {html.escape(report['b'])}</p>"
        f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table></body></html>",
        encoding="utf-8",
    )
    return path
