"""Self-checking exercises: ``check`` and its ``Feedback`` (``core``), and the chapters' answer keys
(``overview_keys`` for chapters 0 and 8, ``parameter_keys`` for 1-4, ``attribution_keys`` for 5-7, registered
in ``EXERCISES`` on import), and the implement-the-core exercises (``cores``; the chapters' in ``core_keys``, registered in ``CORES``)."""
from . import attribution_keys, core_keys, cores, overview_keys, parameter_keys
from .cores import CORES
from .core import AUDIT_KEY, EXERCISES, Exercise, Feedback, audit, check, difference, register

__all__ = ["AUDIT_KEY", "CORES", "EXERCISES", "Exercise", "Feedback", "attribution_keys", "audit", "core_keys", "cores", "check", "difference",
           "overview_keys", "parameter_keys", "register"]
