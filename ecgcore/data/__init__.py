"""Data sets: the container, its on-disk cache, preprocessing, PTB-XL, measured labels."""

from ecgcore.data.dataset import CLASS_NAMES, TARGETS, DataSet

__all__ = ["CLASS_NAMES", "TARGETS", "DataSet"]
