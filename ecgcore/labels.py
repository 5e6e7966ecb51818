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

# Rhythm targets, given by the data sets whose spec draws rhythms (ecgcore.data.synthetic.rhythm_targets): how
# irregular the R-R intervals are, how fast the atria go, how many atrial activations per QRS, and the count of
# each kind of beat in the record (MIT-BIH symbols N, A, V, j, E, /).
RHYTHM_TARGETS = {"rr_cv": "share", "atrial_rate": "/min", "conduction": "per QRS", "beats_normal": "beats",
                  "beats_atrial_premature": "beats", "beats_ventricular": "beats", "beats_junctional": "beats",
                  "beats_escape": "beats", "beats_paced": "beats"}
