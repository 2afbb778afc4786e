"""The one knob of every property-based fuzz test: `SEKISHO_FUZZ_CASES`, the examples a test of weight 1 runs.

The default keeps CI's fuzz run to a few minutes on two slow cores; a longer run is the same tests with a bigger
number, e.g. `SEKISHO_FUZZ_CASES=2000 python -m pytest tests/server/test_fuzz.py tests/unit/test_fuzz_parsers.py
tests/client/test_fuzz_client.py -p no:randomly` (README names it). `--hypothesis-seed=N` replays one run; a
failure prints a `@reproduce_failure` blob.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

DEFAULT_CASES = 100
CASES = int(os.environ.get("SEKISHO_FUZZ_CASES", str(DEFAULT_CASES)))


def fuzz(weight: float = 1.0) -> settings:
    """Hypothesis settings for a fuzz test: `weight` × SEKISHO_FUZZ_CASES examples, no per-example deadline."""
    return settings(
        max_examples=max(1, round(CASES * weight)),
        deadline=None,  # two shared cores: timing is noise, not a finding
        print_blob=True,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,  # the worlds are module-wide on purpose: every example shares them
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )
