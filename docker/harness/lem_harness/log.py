"""The harness's one line format on stderr, which lem shows under a node's row."""

import sys


def log(message: str) -> None:
    print(f"[lem-harness] {message}", file=sys.stderr, flush=True)
