"""lem's environment variables are LEM_*; the two the host sets for the harness were once LLEM_*
(LLEM_CONFIG_PATH, LLEM_PARENT_PID), and those old names stay aliases. The one place that rule lives
in the harness (src/env.ts is the host's): LEM_<NAME> first, else LLEM_<NAME>; empty counts as unset.
"""

import os
from typing import Mapping, Optional


def lem_env(name: str, environ: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """LEM_<name>, else its old name LLEM_<name>."""
    env = os.environ if environ is None else environ
    return env.get(f"LEM_{name}") or env.get(f"LLEM_{name}") or None
