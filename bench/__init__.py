"""duban's benchmarks (`python -m bench`; docs/benchmarks.md)."""

import os

# The suites measure the stages' own work: a tick's 排查 runs unpaced here unless the caller
# says otherwise. The deployment's pace (DUBAN_STAGE_DUTY, default 0.5 of the time) is what
# the city suite's "deployed" mode measures (bench/city_suite.py).
os.environ.setdefault("DUBAN_STAGE_DUTY", "1")
