"""What a task means: its default loss, its metrics, and how a net's outputs must fit the targets."""
