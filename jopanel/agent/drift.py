"""`Drift`: one way the system differs from an account's config, with its fix.

Both halves of "compare, then bring in line" produce these: the Linux account side
(agent/converge.py) and the web/PHP/SSH side (agent/hosting.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Drift:
    kind: str
    detail: str
    fix: Callable[[], object]
