"""MkDocs hook: the Parameters page is generated from ``sim.config.parameter_table()``.

The page ``parameters.md`` holds a marker line, ``<!-- parameter-table -->``; this hook
replaces it with one Markdown table per section (path, default, unit, bounds, source,
meaning), so the page can never disagree with the code.
"""

from __future__ import annotations

from typing import Any

from sim.config import parameter_table

MARKER = "<!-- parameter-table -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def parameter_markdown() -> str:
    """Every parameter as Markdown: a heading and a table per section."""
    sections: dict[str, list[dict[str, str]]] = {}
    for row in parameter_table():
        sections.setdefault(row["parameter"].split(".")[0], []).append(row)
    parts = []
    for section, rows in sections.items():
        parts.append(f"## `{section}`\n")
        parts.append("| parameter | default | unit | bounds | source | meaning |")
        parts.append("|---|---|---|---|---|---|")
        for r in rows:
            cells = [f"`{r['parameter']}`", f"`{r['default']}`", r["unit"], r["bounds"]]
            cells += [r["source"], r["meaning"]]
            parts.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        parts.append("")
    return "\n".join(parts)


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    """Fill the marker of the Parameters page with the generated tables."""
    if MARKER in markdown:
        return markdown.replace(MARKER, parameter_markdown())
    return markdown
