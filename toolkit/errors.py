"""The one exception root of jixiao: every error the tool reports to a person derives from JixiaoError.

``str()`` of a JixiaoError is a Chinese message a finance officer can act on, never a Python name.
"""

from __future__ import annotations


class JixiaoError(Exception):
    """An error jixiao reports to its user; ``str()`` is the Chinese message."""
