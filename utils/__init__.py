"""The framework under main.py and the two interfaces, one sub-package per concern (see README, Layout)."""
