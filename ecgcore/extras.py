"""Optional parts of the lab: the extra (`pip install 'ecgcore[NAME]'`) that brings each one.

`make run` and `make test` install them all (requirements.txt); a user who installed the package alone gets,
when a feature needs a missing one, a message that says which extra to install instead of an ImportError.
"""

from __future__ import annotations

import importlib

# module -> the extra in pyproject.toml that installs it
EXTRAS = {"ray": "ray", "mlflow": "mlflow", "torch.utils.tensorboard": "tensorboard", "deepfakeecg": "gan"}


class MissingExtra(ImportError):
    """A feature's optional dependency is not installed; the message names the extra."""


def need(module, feature):
    """Import and return `module` (a key of EXTRAS); MissingExtra naming `feature` and its extra when the
    module cannot be imported."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        extra = EXTRAS[module]
        raise MissingExtra(f"{feature} needs the optional '{extra}' extra, which is not installed ({e}): "
                           f"pip install 'ecgcore[{extra}]' (or pip install -r requirements.txt)") from None
