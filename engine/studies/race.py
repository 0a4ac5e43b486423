"""Race and repeat: the same network trained with several trainers, each over several seeds,
with mean curves and a band, so that a difference can be told from luck.

ConvNetJS's trainer comparison demo trains one network per trainer on the same examples
and plots their curves. Here every (trainer, seed) pair is one run of the experiment: a
seed fixes the starting weights, the data order and the augmentation, and every trainer
gets the same ones (a paired comparison). The runs go one after another or interleaved
(a stretch of each in turn, so that all curves grow together). Each run is measured at
the same examples seen (``points`` of them): the training loss and accuracy averaged over
the stretch since the last point, and the accuracy on a fixed sample of validation
images. The summary gives, per trainer and point, the mean, the standard deviation, the
minimum and maximum over the seeds that are still going (a diverged run stops there).

    race = Race(experiment, dataset, methods=["sgd", "adadelta"], seeds=3, epochs=0.2)
    result = race.run(progress=..., cancelled=...)   # plain data, see Race.summary

``progress(fraction)`` and ``cancelled()`` follow ``engine.tasks``: a cancelled race raises
``engine.errors.Cancelled``, and ``race.summary(cancelled=True)`` still gives what it measured.
"""
import math
import time

import numpy as np

from engine.core.tasks import Reporter
from engine.data.containers import accuracy
from engine.runs.run import make_run

#: The trainers of ConvNetJS's comparison demo (``demo/js/trainers.js``: learning rate 0.01,
#: eps 1e-6, ro 0.95, momentum 0.9 where it has one), and adam (not in the demo) at
#: Kingma & Ba's 0.001. Batch size and decay come from the experiment.
DEMO_TRAINERS = {
    "sgd": {"method": "sgd", "learning_rate": 0.01, "momentum": 0.0},
    "momentum": {"method": "sgd", "learning_rate": 0.01, "momentum": 0.9},
    "nesterov": {"method": "nesterov", "learning_rate": 0.01, "momentum": 0.9},
    "adagrad": {"method": "adagrad", "learning_rate": 0.01, "eps": 1e-6},
    "windowgrad": {"method": "windowgrad", "learning_rate": 0.01, "eps": 1e-6, "ro": 0.95},
    "adadelta": {"method": "adadelta", "eps": 1e-6, "ro": 0.95},
    "adam": {"method": "adam", "learning_rate": 0.001, "eps": 1e-8, "beta1": 0.9, "beta2": 0.999},
}

CURVES = ("cost_loss", "train_accuracy", "validation_accuracy")


def band(values):
    """``{"mean", "sd", "min", "max", "n"}`` of the numbers in ``values`` that are not None/NaN
    (the standard deviation over the runs, 0 for one; all None when there is none)."""
    v = np.array([x for x in values if x is not None and math.isfinite(x)], dtype=np.float64)
    if not len(v):
        return {"mean": None, "sd": None, "min": None, "max": None, "n": 0}
    return {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
            "min": float(v.min()), "max": float(v.max()), "n": int(len(v))}


class _Entry:
    """One (trainer, seed) run and its points."""

    def __init__(self, name, seed, run, points):
        self.name, self.seed, self.run = name, seed, run
        self.curves = {k: [None] * points for k in CURVES}
        self.done = 0           # points measured
        self.status = "waiting"  # running, done, diverged
        self.message = None
        self.seconds = 0.0


class Race:
    """Several trainers, several seeds, one network (see the module's docstring).

    Parameters
    ----------
    experiment : engine.experiment.Experiment
        The network, batch size, decay, augmentation, validation split, epochs.
    dataset : engine.data.Dataset
    methods : list of str, optional
        Names from ``DEMO_TRAINERS`` (default: all seven), or keys of ``trainers``.
    seeds : int or list of int
        How many seeds (0, 1, ...), or which.
    epochs : float, optional
        How long each run trains (default: the experiment's).
    points : int
        Measurements along each run.
    eval_examples : int
        Validation images (a fixed sample, the same for every run) measured at each point.
    interleave : bool
        Train a stretch of every run in turn instead of one run after another.
    trainers : dict, optional
        Trainer settings per name, added to or replacing ``DEMO_TRAINERS``.
    """

    def __init__(self, experiment, dataset, methods=None, seeds=3, epochs=None, points=20,
                 eval_examples=500, interleave=False, trainers=None):
        from engine.runs.experiment import ExperimentError
        self.trainers = dict(DEMO_TRAINERS, **(trainers or {}))
        self.methods = list(methods or DEMO_TRAINERS)
        unknown = [m for m in self.methods if m not in self.trainers]
        if unknown:
            raise ExperimentError(f"race: unknown trainer {unknown[0]!r} "
                                  f"(known: {', '.join(self.trainers)})")
        self.seeds = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
        if not self.seeds or not self.methods:
            raise ExperimentError("race: at least one trainer and one seed are needed")
        if int(points) < 1:
            raise ExperimentError(f"race: at least one point is needed, got {points}")
        self.experiment = experiment.replace(epochs=epochs) if epochs is not None else experiment
        self.dataset = dataset
        self.points = int(points)
        self.interleave = interleave
        train, val = self.experiment.splits(dataset)
        probe = val if val is not None and len(val) else dataset.test
        rng = np.random.default_rng(0)
        n = min(eval_examples, len(probe))
        self.probe = probe.subset(np.sort(rng.choice(len(probe), n, replace=False)))
        self.n_train = len(train)
        bs = int(self.experiment.trainer["batch_size"])
        total = max(1, int(round(self.experiment.epochs * self.n_train)))
        # every point after the same whole number of batches
        self.batches_per_point = max(1, math.ceil(total / self.points / bs))
        self.every = self.batches_per_point * bs
        self.examples = [self.every * (i + 1) for i in range(self.points)]
        self.entries = []
        self.started = None

    def _make(self, name, seed):
        exp = self.experiment.replace(seed=seed, trainer=dict(self.experiment.trainer,
                                                                **self.trainers[name]))
        net = exp.build_net()
        run = make_run(exp, net, exp.build_trainer(net), self.dataset, test=False,
                           eval_examples=None, eval_every=10 ** 12,
                           epochs=self.examples[-1] / self.n_train)
        return _Entry(name, seed, run, self.points)

    def _step(self, e):
        """Train one stretch of ``e`` and measure a point (False when it is finished)."""
        t0 = time.perf_counter()
        e.status = "running"
        r = e.run.train_batches(max_batches=self.batches_per_point)
        if r["tag"] == "diverged":
            e.status, e.message = "diverged", r["message"]
            e.seconds += time.perf_counter() - t0
            return False
        i = e.done
        e.curves["cost_loss"][i] = r["cost_loss"]
        e.curves["train_accuracy"][i] = r["train_accuracy"]
        e.curves["validation_accuracy"][i] = accuracy(e.run.net, self.probe) if len(self.probe) else None
        e.done += 1
        e.seconds += time.perf_counter() - t0
        if e.done >= self.points:
            e.status = "done"
            e.run = None  # its network is no longer needed
            return False
        return True

    def run(self, progress=None, cancelled=None):
        """Train every run and return ``summary()``.

        ``progress(fraction)`` after each stretch (the share of all runs' points measured);
        ``cancelled()`` is asked between stretches, and when it says True the race raises
        ``engine.errors.Cancelled`` (``summary(cancelled=True)`` has what was measured).
        """
        reporter = Reporter(progress, cancelled)
        self.started = time.perf_counter()
        pairs = [(m, s) for m in self.methods for s in self.seeds]
        total = len(pairs) * self.points

        def step(e):
            going = self._step(e)
            # a diverged run's points are all accounted for
            reporter.progress(sum(self.points if x.status == "diverged" else x.done
                                  for x in self.entries) / total)
            return going

        if self.interleave:
            self.entries = [self._make(m, s) for m, s in pairs]
            live = list(self.entries)
            while live:
                for e in list(live):
                    reporter.check()
                    if not step(e):
                        live.remove(e)
        else:
            for m, s in pairs:
                e = self._make(m, s)
                self.entries.append(e)
                while True:
                    reporter.check()
                    if not step(e):
                        break
        return self.summary()

    def summary(self, cancelled=False):
        """What the race has measured so far, as plain data.

        Returns
        -------
        dict
            ``examples_seen`` (the points), ``methods`` (names in order), and per method under
            ``results[name]``: ``trainer`` (its settings), ``runs`` (per seed: ``seed``,
            ``status``, ``message``, ``seconds``, and each curve as a list with None past
            where it stopped) and ``curves`` (per curve name a list of ``band``s, one per
            point), ``final`` (the ``band`` of each curve's last point over the seeds that
            finished), ``diverged`` (how many seeds diverged). Also ``cancelled`` and
            ``seconds``.
        """
        out = {"examples_seen": list(self.examples), "methods": list(self.methods),
               "seeds": list(self.seeds), "every": self.every, "results": {},
               "cancelled": cancelled,
               "seconds": None if self.started is None else time.perf_counter() - self.started}
        for m in self.methods:
            entries = [e for e in self.entries if e.name == m]
            res = {"trainer": dict(self.trainers[m]),
                   "runs": [{"seed": e.seed, "status": e.status, "message": e.message,
                             "seconds": e.seconds, **{k: list(v) for k, v in e.curves.items()}}
                            for e in entries],
                   "curves": {k: [band([e.curves[k][i] for e in entries]) for i in range(self.points)]
                              for k in CURVES},
                   "final": {k: band([e.curves[k][-1] for e in entries if e.status == "done"])
                             for k in CURVES},
                   "diverged": sum(e.status == "diverged" for e in entries)}
            out["results"][m] = res
        return out


def race(experiment, dataset, methods=None, seeds=3, progress=None, cancelled=None, **options):
    """``Race(...).run(progress, cancelled)``: the summary of a finished race."""
    return Race(experiment, dataset, methods, seeds, **options).run(progress, cancelled)
