"""Self-checking exercises: ``check`` and its ``Feedback`` (``core``), and the chapters' answer keys
(``overview_keys`` for chapters 0 and 8, ``parameter_keys`` for 1-4, ``attribution_keys`` for 5-7, registered
in ``EXERCISES`` on import)."""
from . import attribution_keys, overview_keys, parameter_keys
from .core import EXERCISES, Exercise, Feedback, check, difference, register

__all__ = ["EXERCISES", "Exercise", "Feedback", "attribution_keys", "check", "difference", "overview_keys",
           "parameter_keys", "register"]
