"""Synthetic 12-lead ECGs with exact labels (temporary stub; full docstring below once the API settles)."""
from ecgcore.synth.params import PARAMS, validate_params
from ecgcore.synth.parametric import FIDUCIALS, Synthesis, synthesize
