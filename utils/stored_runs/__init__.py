"""Runs already on disk: the run `--resume` continues, and what a checkpoint says of the run that wrote it."""
