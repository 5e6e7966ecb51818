"""The 12 standard leads, the paper's 8, and the exact relations between the limb leads."""

import numpy as np

LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
# The seed paper (and the DeepFake GAN) use the 8 independent leads.
PAPER_LEADS = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")
LEAD_SETS = {"all": LEADS, "paper8": PAPER_LEADS}


def limb_leads(lead_i, lead_ii):
    """III, aVR, aVL, aVF from I and II (Einthoven's law and Goldberger's augmented leads)."""
    lead_iii = lead_ii - lead_i
    avr = -(lead_i + lead_ii) / 2
    avl = lead_i - lead_ii / 2
    avf = lead_ii - lead_i / 2
    return lead_iii, avr, avl, avf


def twelve_from_eight(signals):
    """(N, 8, L) in PAPER_LEADS order -> (N, 12, L) in LEADS order."""
    lead_i, lead_ii, precordial = signals[:, 0], signals[:, 1], signals[:, 2:]
    limb = np.stack([lead_i, lead_ii, *limb_leads(lead_i, lead_ii)], axis=1)
    return np.concatenate([limb, precordial], axis=1).astype(signals.dtype, copy=False)


def resolve_leads(leads):
    """The lead names `leads` asks for: a LEAD_SETS key ("all", "paper8") or a list of names from LEADS."""
    names = LEAD_SETS.get(leads, leads) if isinstance(leads, str) else leads
    unknown = [n for n in names if n not in LEADS] if isinstance(names, (list, tuple)) else [leads]
    if unknown or not names:
        raise ValueError(f"leads={leads!r} is invalid: 'all', 'paper8' or a list of lead names from {list(LEADS)}")
    return tuple(names)


def select(signals, lead_names, wanted):
    """Pick `wanted` leads (names or a LEAD_SETS key) out of (N, C, L) signals named `lead_names`."""
    wanted = LEAD_SETS.get(wanted, wanted) if isinstance(wanted, str) else wanted
    names = list(lead_names)
    missing = [w for w in wanted if w not in names]
    if missing:
        raise ValueError(f"leads {missing} not in the data set's leads {names}")
    return signals[:, [names.index(w) for w in wanted]], tuple(wanted)
