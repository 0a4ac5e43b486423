"""The GUI benchmark's lateness statistics: constant memory, right percentiles."""
import numpy as np

from workbench.bench import _Lateness


def test_lateness_histogram_matches_numpy_percentiles():
    rng = np.random.default_rng(0)
    samples = rng.exponential(2.0, 20000)
    lat = _Lateness(skip=0)
    for s in samples:
        lat.add(float(s))
    out = lat.summary()
    assert out["ticks"] == len(samples)
    assert abs(out["median_ms"] - np.median(samples)) <= _Lateness.BIN_MS
    assert abs(out["p99_ms"] - np.percentile(samples, 99)) <= _Lateness.BIN_MS
    assert out["max_ms"] == samples.max()


def test_lateness_skips_start_up_and_clips_early_ticks():
    lat = _Lateness(skip=2)
    for ms in (500.0, 400.0, -0.3, 1.0):  # two start-up ticks, one early tick
        lat.add(ms)
    out = lat.summary()
    assert out["ticks"] == 2 and out["max_ms"] == 1.0 and out["median_ms"] < 0.1
