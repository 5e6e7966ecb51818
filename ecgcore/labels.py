"""The names every layer shares: PTB-XL's diagnostic superclasses and the regression targets with their units."""

# The five diagnostic superclasses of PTB-XL, in the order every class index refers to.
CLASS_NAMES = ("NORM", "MI", "STTC", "CD", "HYP")
# PTB-XL's two record rates (Hz): what a PTB-XL folder can be read at, so what the models are trained at.
PTBXL_RATES = (100, 500)
# Regression targets and their units; sources may add morphology targets (see ecgcore.data.measure).
TARGETS = {"hr": "bpm", "pr": "ms", "qrs": "ms", "qt": "ms"}
