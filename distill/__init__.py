"""distill: distil a reasoning teacher into a compact student for competition maths."""

__version__ = "0.1.0"
