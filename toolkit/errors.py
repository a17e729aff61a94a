"""The package's one exception root: JixiaoError, for errors jixiao reports to its user.

``str()`` of a JixiaoError is a Chinese message a finance officer can act on, never a Python name.
"""

from __future__ import annotations


class JixiaoError(Exception):
    """An error jixiao reports to its user; ``str()`` is the Chinese message."""
