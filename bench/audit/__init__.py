"""The robustness audit: checks that say whether to believe each robust accuracy.

``bench.audit(...)`` runs it from Python (``bench.audit.api``); the package's
modules hold the checks, so the package itself is made callable: one name
serves both, as DESIGN.md's surface has it.
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from bench.audit.api import audit

        return audit(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
