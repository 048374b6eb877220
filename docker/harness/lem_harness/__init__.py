"""lem measurement harness: runs one experiment cycle and writes its result (see docker/PROTOCOL.md)."""

__version__ = "0.1.0"
