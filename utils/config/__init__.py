"""The command line: names to classes, options from signatures, config files, typed settings, early checks."""
