"""jixiao 绩效自评工具箱: department-wide budget-performance self-evaluation, from workbook to report.

The pipeline, one way: ``read`` (inbox, package safety, cells) → ``check`` (validation, duplicates)
→ ``rules`` (schemes, scoring) → ``write``/``forms`` (report .docx, 汇总表, returned workbooks,
templates) → ``deliver`` (mail); ``batch`` runs it over a folder in worker processes (``process``,
``workers``) and ``cli`` is the command line. ``text``, ``problems``, ``model`` and ``results`` are
the shared vocabulary at the bottom.

Lazy imports (an import inside a function, marked ``# lazy``) are used in two places only, for one
reason — start-up time: ``cli.py`` imports a command's modules inside that command, so ``jixiao
--help`` and usage errors answer at once; the per-workbook functions in ``process.py``/``batch.py``
import their stage when they first need it, so a spawned worker (Windows starts every worker by
re-importing) is ready before it has work, and pandas is imported only to read a roster.
"""

__version__ = "0.1.0"
