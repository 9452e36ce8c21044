"""Lightning wiring: the Trainer, its callbacks and logger, and checkpoint files written atomically."""
