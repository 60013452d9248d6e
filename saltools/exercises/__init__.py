"""Self-checking exercises: ``check`` and its ``Feedback`` (``core``), and the chapters' answer keys
(``keys``, registered in ``EXERCISES`` on import)."""
from . import keys
from .core import EXERCISES, Exercise, Feedback, check, difference, register

__all__ = ["EXERCISES", "Exercise", "Feedback", "check", "difference", "keys", "register"]
