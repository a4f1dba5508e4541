"""Figures and the HTML report.

Figures live in ``scalescope.report.figures.<analysis>``: one function per figure, taking results plus a matplotlib
``ax`` and never fitting. Output directories describe themselves with ``section.json`` (:func:`write_section`);
:func:`build_report` renders any set of them into one self-contained HTML page.
"""

from scalescope.report.html import build_report, render_html
from scalescope.report.section import Section, find_sections, read_section, write_section
from scalescope.report.style import new_figure, savefig, use_style

__all__ = [
    "Section",
    "build_report",
    "find_sections",
    "new_figure",
    "read_section",
    "render_html",
    "savefig",
    "use_style",
    "write_section",
]
