"""The one knob of every property-based fuzz test: `SEKISHO_FUZZ_CASES`, the examples a test of weight 1 runs.

In CI (`CI=true`, as `.ci/run` sets it) the cases are derandomized: Hypothesis seeds each test from the test's own
source and reads no example database, so every CI run of the same code tries the same cases, and a CI run fails on
what a change did, never on a brand-new random case. Without `CI=true` (whatever Hypothesis's own CI detection
says) the cases are random, a new set each run; the example database (`.hypothesis/`) replays past failures first.

The default keeps CI's fuzz run to a few minutes on two slow cores; a longer, random run is the same tests with a
bigger number and without `CI=true`, e.g. `SEKISHO_FUZZ_CASES=2000 python -m pytest tests/server/test_fuzz.py
tests/unit/test_fuzz_parsers.py tests/client/test_fuzz_client.py -p no:randomly` (README names it).
`--hypothesis-seed=N` replays one random run (it has no effect under `CI=true`); a failure prints a
`@reproduce_failure` blob.
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, settings

from tests.needs import IN_CI

DEFAULT_CASES = 100
CASES = int(os.environ.get("SEKISHO_FUZZ_CASES", str(DEFAULT_CASES)))


def fuzz(weight: float = 1.0) -> settings:
    """Hypothesis settings for a fuzz test: `weight` × SEKISHO_FUZZ_CASES examples, no per-example deadline;
    derandomized with no example database under `CI=true`, random elsewhere."""
    reproducible: dict[str, Any] = {"derandomize": True, "database": None} if IN_CI else {"derandomize": False}
    return settings(
        max_examples=max(1, round(CASES * weight)),
        **reproducible,
        deadline=None,  # two shared cores: timing is noise, not a finding
        print_blob=True,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,  # the worlds are module-wide on purpose: every example shares them
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )
