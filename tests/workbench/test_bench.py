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


def test_understand_bench_runs_its_phases(qtbot, capsys):
    """A short run of ``python -m workbench.understand_bench``: the phase reports its work."""
    import json

    from workbench.bench import understand as understand_bench
    assert understand_bench.main(["--seconds", "1.5", "--no-training", "--phases", "draw_saliency"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["what"] for line in lines] == ["draw_saliency"]
    assert lines[0]["overlays_per_second"] > 0 and lines[0]["explanation_ms_median"] > 0
    assert lines[0]["event_loop_lateness"]["ticks"] > 0  # how many depends on the machine's load
