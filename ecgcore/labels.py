"""The names every layer shares: PTB-XL's diagnostic superclasses and the regression targets with their units."""

# The five diagnostic superclasses of PTB-XL, in the order every class index refers to.
CLASS_NAMES = ("NORM", "MI", "STTC", "CD", "HYP")
# PTB-XL's two record rates (Hz): what a PTB-XL folder can be read at, so what the models are trained at.
PTBXL_RATES = (100, 500)
# The sampling rates (Hz) any ECG the lab reads may have: an uploaded file, a data set folder, a run's data.
RATE_RANGE_HZ = (50.0, 10000.0)


def rate_hz(value, where, written=None):
    """`value` as a sampling rate in Hz, or ValueError naming it (as `written`, when given: the text it was
    read from) and `where` it was read (a file, a field) when it is not a finite number in RATE_RANGE_HZ."""
    low, high = RATE_RANGE_HZ
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        shown = value if written is None else written
        raise ValueError(f"{where}: sampling rate {shown!r} is not a rate: give a number of Hz, {low:g}-{high:g}")
    return float(value)


# Regression targets and their units; sources may add morphology targets (see ecgcore.data.measure).
TARGETS = {"hr": "bpm", "pr": "ms", "qrs": "ms", "qt": "ms"}
