"""``python -m shutdown_probe.articles``: the articles' write-up, under its first name.

The command is ``shutdown-probe articles`` (:mod:`shutdown_probe.cli`); this module
keeps the way the README and ``reports/articles.toml`` invoke it working:

    python -m shutdown_probe.articles reports/articles.toml \\
        --markdown reports/articles.md --html reports/articles.html

The write-up itself (its model, loading and verdicts) is :mod:`shutdown_probe.writeup`;
its names are importable from here too, for code that imported them from this module.
"""

from __future__ import annotations

import sys

from .cli import main_articles as main
from .writeup import (MORE, NOT_REPRODUCED, REPRODUCED, UNTESTED, WRONG, Article, Experiment, Judgement, Writeup,
                      judge, judge_all, load)

__all__ = ["MORE", "NOT_REPRODUCED", "REPRODUCED", "UNTESTED", "WRONG", "Article", "Experiment", "Judgement",
           "Writeup", "judge", "judge_all", "load", "main"]

if __name__ == "__main__":
    sys.exit(main())
