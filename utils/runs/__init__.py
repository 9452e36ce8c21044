"""Run folders and what a run records: config, environment, results, checkpoints read back, random state."""
