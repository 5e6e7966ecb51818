"""Data sets: the container, its on-disk cache, preprocessing, PTB-XL, measured labels."""
