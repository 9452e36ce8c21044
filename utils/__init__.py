"""What main.py and both interfaces share. Kept light: importing it never imports Lightning."""
