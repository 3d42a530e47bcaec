"""Compiled kernels with their numpy reference twins (see kernels/_kernel.py)."""
