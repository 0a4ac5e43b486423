"""The tour's learning-rate steps do what their words promise, on the demo network, run headless
with the tour file's own settings: the "explode" rate is stopped as diverged within a few
hundred examples however often the run checks (the app checks every 0.2 s, so a fast machine
checks after many batches, a slow one after few), and the "anneal" run reaches 97%.
(``python tools/tour_rates.py`` measures the same with more seeds.)"""
import math

import pytest

from engine.runs.run import DivergenceWatch
from tools.tour_rates import anneal, explode
from workbench.tour.steps import load_tour, step_experiment

TOUR = load_tour()


def test_the_explode_step_is_stopped_with_advice_whatever_the_check_interval(dataset):
    res = explode(dataset, None, seeds=range(2), chunks=[1, 20, 100])
    exp = step_experiment(TOUR, "explode")
    for (seed, chunk), (stopped, r) in res.items():
        assert stopped is not None, (seed, chunk, r)
        assert stopped <= max(400, chunk * exp.trainer["batch_size"]), (seed, chunk)  # at the first check
        assert r["tag"] == "diverged" and "diverged" in r["message"]
        assert r["suggested_learning_rate"] == pytest.approx(0.01)  # a rate that trains
        if "blew up" in r["message"]:  # a finite loss: well above the line the watch draws
            loss = float(r["message"].split("blew up to ")[1].split(" ")[0])
            assert loss > 1.4 * DivergenceWatch.BLOWUP * math.log(10)


@pytest.mark.slow
def test_the_explode_step_is_stopped_on_many_seeds_and_long_chunks(dataset):
    res = explode(dataset, None, seeds=range(6), chunks=[1, 500])
    assert all(stopped is not None for stopped, _ in res.values())


@pytest.mark.slow
def test_the_annealed_run_reaches_97_percent_in_the_steps_training(dataset):
    results = anneal(dataset, seeds=range(3))
    for seed, acc, _ in results:
        assert acc >= 0.97, (seed, acc)
