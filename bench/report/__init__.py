"""HTML reports of a results database: the paper's tables and figures, plus CSV, Markdown and LaTeX tables.

``render_report(results, out_dir=None)`` is the entry point (``run_bench.py report``).
"""

from bench.report.render import render_report

__all__ = ["render_report"]
