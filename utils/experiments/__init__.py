"""Runs beyond one: k-fold cross-validation and Optuna sweeps, each of their runs a `python main.py` of its own."""
