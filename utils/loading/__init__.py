"""The user's classes by file name: model/ and data/ files, torchvision's nets, the Lightning package a run takes."""
