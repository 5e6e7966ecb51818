"""Shared test set-up: every test session gets its own data-set cache, never the user's."""

import pytest


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("ECGCORE_CACHE", str(tmp_path_factory.mktemp("ecgcore-cache")))
    yield
    mp.undo()
