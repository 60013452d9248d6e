"""Network probes with a bound, so offline machines answer fast (imports nothing of saltools)."""
from __future__ import annotations

import socket


def reachable(host: str, timeout: float = 3.0) -> bool:
    """Whether a TCP connection to ``host``:443 opens within ``timeout`` seconds."""
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False
