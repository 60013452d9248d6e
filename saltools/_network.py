"""Network probes with one overall deadline, so offline machines answer fast (imports nothing of saltools).

``socket.create_connection`` bounds the connection but not the name lookup before it: with a name
server that never answers, ``getaddrinfo`` can hang for tens of seconds. Here the lookup runs in a
daemon thread that is abandoned at the deadline, and the connection attempts get what time is left.
"""
from __future__ import annotations

import socket
import threading
import time


def reachable(host: str, timeout: float = 3.0, port: int = 443) -> bool:
    """Whether a TCP connection to ``host``:``port`` opens within ``timeout`` seconds in all, name lookup
    included; False (never an exception) when it does not: no route, refused, black-holed address or
    black-holed name server."""
    deadline = time.monotonic() + timeout
    addresses = _lookup(host, port, timeout)
    for family, kind, proto, _, address in addresses or []:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        try:
            with socket.socket(family, kind, proto) as sock:
                sock.settimeout(remaining)
                sock.connect(address)
                return True
        except OSError:
            continue
    return False


def _lookup(host: str, port: int, timeout: float) -> list | None:
    """``getaddrinfo`` for TCP, or None when it fails or takes longer than ``timeout`` seconds."""
    found: dict = {}

    def run() -> None:
        try:
            found["addresses"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            found["addresses"] = None

    thread = threading.Thread(target=run, name=f"lookup {host}", daemon=True)
    thread.start()
    thread.join(timeout)
    return found.get("addresses")
