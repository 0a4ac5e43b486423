import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# every test runs as a user of its own, the real home's app folders are guarded, and a modal
# dialog nobody answers fails its test within seconds (see tests/isolation.py)
pytest_plugins = ["tests.isolation"]


# Fuzz tests run the same examples on every run (a failure found by chance in CI would
# be a failure nobody can reproduce); `pytest --hypothesis-profile=explore` draws new ones.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("repeatable", derandomize=True, print_blob=True)
_hypothesis_settings.register_profile("explore", derandomize=False, max_examples=2000)
_hypothesis_settings.load_profile("repeatable")
