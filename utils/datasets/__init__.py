"""Serving the user's datasets: batches, collation and seeded hold-out splits (plain PyTorch)."""
