"""The sinus records of the parametric engine before rhythms were added (commit 2e6f231), as SHA-256 digests.

`python -m tests.synth.sinus_reference` rewrote sinus_reference.json from the engine as it stood then; the test
(test_rhythms.py) checks today's engine against it. numpy's sin, power and einsum may differ in the last bit
between CPUs (SIMD kernels), so the file also holds a digest of those functions' results on this machine: the
byte-for-byte comparison runs where they agree, and a 1e-6 mV comparison of a few samples elsewhere.
"""

import hashlib
import json
from pathlib import Path

import numpy as np

from ecgcore.synth import sample_params, synthesize

FILE = Path(__file__).with_name("sinus_reference.json")


def cases():
    """{name: (params, synthesize keyword arguments)}: chunked batches, classes, the page's default record."""
    drawn, _ = sample_params(60, seed=3)
    classes, _ = sample_params(25, classes="all", seed=7)
    hard, _ = sample_params(9, classes="all", seed=2, difficulty="hard")
    return {
        "normal-500hz-two-chunks": (drawn, {"n": 60, "fs": 500, "seed": 3}),
        "classes-100hz": (classes, {"n": 25, "fs": 100, "seed": 7}),
        "default-250hz": ({}, {"n": 1, "fs": 250, "seed": 0}),
        "hard-30s-no-noise": (hard, {"n": 9, "fs": 100, "duration": 30.0, "seed": 2, "noise": False}),
    }


def digest(array):
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def numerics():
    """A digest of the floating-point kernels the engine leans on, as this machine computes them."""
    x = np.linspace(-7.0, 7.0, 10_001)
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((5, 10, 300)), rng.standard_normal((5, 10, 8))
    return digest(np.concatenate([np.sin(x), np.cos(x), np.abs(x) ** 1.5, np.radians(x),
                                  np.einsum("nwt,nwj->jnt", a, b).ravel()]))


def record(batch):
    return {"signals": digest(batch.signals), "fiducials": digest(batch.fiducials),
            **{f"label_{k}": digest(v) for k, v in batch.labels.items()},
            "probe": batch.signals[:, :, ::97].ravel()[:400].astype(float).tolist()}


if __name__ == "__main__":
    FILE.write_text(json.dumps({"numerics": numerics(), "cases": {
        name: record(synthesize(params, **kwargs)) for name, (params, kwargs) in cases().items()}}))
    print(f"wrote {FILE}")
