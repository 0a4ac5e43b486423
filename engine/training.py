"""The headless training loop that the CLI and the GUI both drive.

A ``Run`` trains in chunks of batches and reports tagged snapshots (plain dicts):
``progress`` after each chunk, ``eval`` after each evaluation, and one final
``done``, ``stopped`` or ``diverged``. A run that does not learn ends with a ``done``
report that says so (``not_learning``, a message and a rate to try; see ``Run``). Between chunks it honours pause, step and
stop requests, which may come from another thread. It keeps a copy of the last
good weights (running statistics included) and goes back to it when the run
diverges: a loss that becomes NaN or infinite, or that blows up while staying
finite, weights that explode, or accuracy that collapses to chance. The
``diverged`` report then suggests a learning rate that trains.

Options for longer work: ``keep_best`` keeps a copy of the weights with the best
validation accuracy so far (``run.best``; ``restore_best()`` puts them back);
``early_stop=P`` ends the run (a ``done`` report with ``early_stopped: True``) after
P evaluations without a better validation accuracy; a ``coach``
(``engine.coach.Coach``) adds per-layer diagnostics and alerts to the reports.
``state()``/``load_state()`` give and take everything a resumed run needs (the
position in the epoch, the data order, the random generators, the evaluation
schedule, the divergence watch); ``engine.checkpoint`` adds the weights and the
trainer's accumulators and writes them to a file.

Evaluation draws its samples from a generator of its own, so how often a run is
evaluated never changes the order in which it sees the training images.
"""
import math
import threading
import time

import numpy as np

from .checkpoint import generator_from_state, generator_state
from .data import Augment, accuracy, input_pixels, network_input, to_float
from .errors import DataError
from .schedules import Schedule


class Run:
    """Train ``trainer.net`` on ``train`` (an ImageSet), reporting as it goes.

    Parameters
    ----------
    trainer : engine.Trainer
    train, validation, test : engine.data.ImageSet (validation and test optional)
    augment : engine.data.Augment, optional
        Default: random crop to the network's input size when images are larger.
    schedule : engine.schedules.Schedule, optional
        Sets ``trainer.learning_rate`` from examples seen before every batch.
    epochs : float, optional
        Stop after this many passes over ``train`` (None: until stopped).
    chunk_seconds : float
        About how long a chunk of batches lasts between reports.
    eval_every : int
        Examples seen between evaluations on ``eval_examples`` validation/test images.
    report_every : int, optional
        A chunk also ends (a ``progress`` report: a point of the curves) at every multiple
        of this many examples, however fast they go (a sweep's short runs: a run shorter
        than ``chunk_seconds`` reported once). The batches trained are the same either way.
    seed : int, optional
        Seed of the data order and augmentation (and, apart, of evaluation samples).
    keep_best : bool
        Keep a copy of the weights at the best validation accuracy (``best``).
    early_stop : int, optional
        End after this many evaluations in a row without a better validation accuracy
        (implies ``keep_best``).
    coach : engine.coach.Coach, optional
        Watches the training steps and adds ``diagnostics`` and ``alerts`` to reports.

    A run that does not learn says so, once, like a divergence: at the first evaluation
    after one epoch, or at the end of a shorter run, provided it has trained on at least
    ``NOT_LEARNING_MIN_EXAMPLES`` examples (fewer are too few to tell a slow start from a
    run that cannot learn), a validation accuracy (else test accuracy) within a small
    margin of chance (``chance_margin``), or a training loss that never fell below
    guessing's (``ln C`` for softmax), ends the run with a ``done`` report holding
    ``not_learning: True``, a ``message`` and ``suggested_learning_rate``; the last good
    weights are put back, as for a divergence.
    """

    def __init__(self, trainer, train, validation=None, test=None, augment=None, schedule=None,
                 epochs=None, chunk_seconds=0.2, eval_every=10000, eval_examples=1000,
                 seed=None, keep_best=False, early_stop=None, coach=None, report_every=None):
        self.trainer = trainer
        self.net = trainer.net
        self.train_set, self.validation, self.test = train, validation, test
        sy, sx, depth = self.net.input_shape
        input_pixels(train.images[:1], self.net.input_shape)  # fails clearly if it cannot fit
        if train.shape[2] != depth:
            raise DataError(f"the network takes {depth} channels, the images have {train.shape[2]}")
        if augment is None:
            augment = Augment(crop=sy if train.shape[0] > sy else None)
        self.augment = augment
        if augment.crop and augment.crop != sy:
            raise DataError(f"augmentation crops to {augment.crop}px but the network takes {sy}px")
        if not augment.crop and train.shape[0] != sy:
            raise DataError(f"{train.shape[1]}x{train.shape[0]} images do not fit the network's "
                            f"{sx}x{sy} input without a crop")
        if len(train) and self.net.loss_layer.layer_type != "regression":
            if train.num_classes > self.net.num_outputs:
                raise DataError(f"the data has {train.num_classes} classes but the network "
                                f"outputs {self.net.num_outputs}")
        self.schedule = schedule
        self.epochs = epochs
        self.chunk_seconds = chunk_seconds
        self.eval_every = eval_every
        self.eval_examples = eval_examples
        if report_every is not None and (isinstance(report_every, bool) or int(report_every) != report_every
                                         or report_every < 1):
            raise DataError(f"report_every must be a whole number of examples >= 1, got {report_every!r}")
        self.report_every = None if report_every is None else int(report_every)
        self.rng = np.random.default_rng(seed)
        self.eval_rng = np.random.default_rng(None if seed is None else [int(seed), 1])
        if early_stop is not None and (isinstance(early_stop, bool) or int(early_stop) != early_stop
                                       or early_stop < 1):
            raise DataError(f"early stopping needs a patience of 1 or more evaluations, "
                            f"got {early_stop!r}")
        self.early_stop = None if early_stop is None else int(early_stop)
        self.keep_best = bool(keep_best) or self.early_stop is not None
        self.best = None          # {"validation_accuracy", "examples_seen", "epoch", "arrays"}
        self._since_best = 0      # evaluations since the best
        self.coach = coach
        self.examples_seen = 0
        self.batches = 0
        self._order = self.rng.permutation(len(train))
        self._pos = 0
        self._next_eval = eval_every
        self._good = self._snapshot_params()
        probe = train.subset(np.arange(min(len(train), 64)))
        self.watch = DivergenceWatch(
            self.net, (network_input(probe.images, self.net.input_shape), probe.labels)
            if len(probe) else None)
        self._lock = threading.Lock()
        self._paused = False
        self._steps = 0
        self._stop = False
        self._wake = threading.Event()
        self._between = []        # callables to run on the training thread between chunks
        self._judged = False      # whether the run was judged as learning (see _not_learning)
        self.finished = False
        if coach is not None:
            coach.attach(self)

    # -- control (any thread) ------------------------------------------------
    def pause(self):
        with self._lock:
            self._paused = True

    def resume(self):
        with self._lock:
            self._paused = False
        self._wake.set()

    def step(self, batches=1):
        """While paused: train this many batches, then pause again."""
        with self._lock:
            self._steps += batches
        self._wake.set()

    def stop(self):
        with self._lock:
            self._stop = True
        self._wake.set()

    def call_between_chunks(self, fn):
        """Run ``fn()`` on the training thread before the next chunk of batches (also while
        paused): how another thread changes settings at a known point of the run."""
        with self._lock:
            self._between.append(fn)
        self._wake.set()

    def _run_between(self):
        with self._lock:
            todo, self._between = self._between, []
        for fn in todo:
            fn()

    def set_eval_every(self, examples):
        """Evaluate every ``examples`` examples from now on (the next at the next multiple)."""
        self.eval_every = max(1, int(examples))
        self._next_eval = (self.examples_seen // self.eval_every + 1) * self.eval_every

    @property
    def eval_due(self):
        """Whether an evaluation comes before the next chunk of batches."""
        return self.examples_seen >= self._next_eval

    @property
    def paused(self):
        return self._paused

    @property
    def epoch(self):
        return self.examples_seen / max(1, len(self.train_set))

    # -- work ------------------------------------------------------------------
    def _snapshot_params(self):
        return [a.copy() for a in self.net.state_arrays()]

    def _restore_good(self):
        for a, good in zip(self.net.state_arrays(), self._good):
            np.copyto(a, good)
        self.trainer.reset_state()  # accumulators may hold NaN too

    def _diverged(self, why):
        """Go back to the last good weights; the ``diverged`` report, with advice that works."""
        self._restore_good()
        t = self.trainer
        rate = suggest_learning_rate(t.method, t.learning_rate, t.momentum)
        if rate is None:
            advice = (f"{t.method} sets its own step size: try a smaller 'eps' or another "
                      f"method (sgd with momentum 0.9 at 0.01)")
        else:
            advice = f"the learning rate ({t.learning_rate:g}) is too high: try {rate:g}"
        return self._report("diverged", suggested_learning_rate=rate, message=(
            f"{why} after {self.examples_seen:,} examples: the network diverged, {advice}. "
            f"The last good weights are kept."))

    def _not_learning(self, report):
        """The ``done`` report of a run that does not learn, judged once on the ``eval``
        report at or after one epoch (or at the end); None while it learns or it is too early."""
        final = self._remaining() <= 0
        if self._judged or self.examples_seen < NOT_LEARNING_MIN_EXAMPLES or not (
                final or self.examples_seen >= len(self.train_set)):
            return None
        self._judged = True
        why = None
        for name, data in (("validation", self.validation), ("test", self.test)):
            acc = report.get(f"{name}_accuracy")
            if acc is None or self.watch.chance is None or not len(data):
                continue
            chance = max(self.watch.chance, float(np.bincount(data.labels).max()) / len(data))
            if acc <= chance + chance_margin(chance, report.get(f"{name}_examples") or len(data)):
                why = f"The {name} accuracy is {acc:.1%}, chance level ({chance:.0%})"
            break
        guess = self.watch.guess_loss
        if (why is None and self.net.loss_layer.layer_type == "softmax" and math.isfinite(self.watch.least_loss)
                and self.watch.least_loss >= guess):
            why = f"The training loss never fell below {guess:.2f}, what guessing gives"
        if why is None:
            return None
        self._restore_good()
        t = self.trainer
        rate, advice = not_learning_advice(t.method, t.learning_rate, t.momentum)
        self.finished = True
        return self._report("done", not_learning=True, suggested_learning_rate=rate, message=(
            f"{why} after {self.examples_seen:,} examples: the network is not learning; {advice}. "
            f"The last good weights are kept."))

    def _next_batch(self, n):
        if self._pos + n > len(self._order):
            self._order = self.rng.permutation(len(self.train_set))
            self._pos = 0
        idx = np.sort(self._order[self._pos:self._pos + n])
        self._pos += n
        pixels = self.augment(self.train_set.images[idx], self.rng)
        return to_float(pixels), self.train_set.labels[idx]

    def _remaining(self):
        if self.epochs is None:
            return math.inf
        return max(0, int(round(self.epochs * len(self.train_set))) - self.examples_seen)

    def train_batches(self, max_batches=None, seconds=None, until=None):
        """Train until ``max_batches`` or ``seconds`` pass, or ``until`` examples have been
        seen; a ``progress`` or ``diverged`` report."""
        t = self.trainer
        sums = {"cost_loss": 0.0, "decay_loss": 0.0, "fwd": 0.0, "bwd": 0.0}
        n_ex = n_right = batches = 0
        start = time.perf_counter()
        while True:
            bs = int(min(max(1, t.batch_size), self._remaining(), len(self.train_set)))
            if bs <= 0:
                break
            if self.schedule is not None:
                t.learning_rate = self.schedule(self.examples_seen)
            x, y = self._next_batch(bs)
            if self.coach is not None:
                self.coach.before_step()
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                stats = t.train(x, y)  # a diverging run is reported below, not warned about
            if self.coach is not None:
                self.coach.after_step(stats)
            loss = stats["loss"]
            if not math.isfinite(loss) or not math.isfinite(stats["cost_loss"]):
                return self._diverged(f"The loss became {loss}")
            out = self.net.layers[-1].out_act.reshape(bs, -1)
            if self.net.loss_layer.layer_type != "regression":
                n_right += int(np.sum(out.argmax(axis=1) == y))
            sums["cost_loss"] += stats["cost_loss"] * bs
            sums["decay_loss"] += (stats["l1_decay_loss"] + stats["l2_decay_loss"]) * bs
            sums["fwd"] += stats["fwd_time"]
            sums["bwd"] += stats["bwd_time"]
            n_ex += bs
            batches += 1
            self.examples_seen += bs
            self.batches += 1
            if max_batches is not None and batches >= max_batches:
                break
            if seconds is not None and time.perf_counter() - start >= seconds:
                break
            if until is not None and self.examples_seen >= until:
                break
        elapsed = time.perf_counter() - start
        if n_ex:
            why, good = self.watch.check(
                sums["cost_loss"] / n_ex,
                n_right / n_ex if self.net.loss_layer.layer_type != "regression" else None,
                examples=n_ex)
            if why:
                return self._diverged(why)
            if good:
                self._good = self._snapshot_params()
        return self._report(
            "progress", examples=n_ex, batches=batches,
            cost_loss=sums["cost_loss"] / n_ex if n_ex else float("nan"),
            decay_loss=sums["decay_loss"] / n_ex if n_ex else float("nan"),
            train_accuracy=n_right / n_ex if n_ex else float("nan"),
            examples_per_second=n_ex / elapsed if elapsed > 0 else float("nan"),
            fwd_ms_per_example=1000 * sums["fwd"] / n_ex if n_ex else float("nan"),
            bwd_ms_per_example=1000 * sums["bwd"] / n_ex if n_ex else float("nan"))

    def evaluate(self, examples=None, crop_count=1):
        """An ``eval`` report: accuracy on (a random sample of) validation and test."""
        out = {}
        for name, data in (("validation", self.validation), ("test", self.test)):
            if data is None or len(data) == 0:
                continue
            if examples and examples < len(data):
                data = data.subset(np.sort(self.eval_rng.choice(len(data), examples, replace=False)))
            out[f"{name}_accuracy"] = accuracy(self.net, data, crop_count)
            out[f"{name}_examples"] = len(data)
        return self._report("eval", **out)

    def _report(self, tag, **fields):
        r = {"tag": tag, "examples_seen": self.examples_seen, "epoch": self.epoch,
             "batches": self.batches, "learning_rate": self.trainer.learning_rate,
             "time": time.time()}
        r.update(fields)
        if self.coach is not None:
            self.coach.review(r)
        return r

    # -- the best weights, early stopping --------------------------------------------
    def _track_best(self, report):
        """Note an ``eval`` report's validation accuracy: a new best (``report["best"]``)
        keeps the weights when ``keep_best``; True when early stopping says to end."""
        acc = report.get("validation_accuracy")
        if acc is None or not self.keep_best:
            return False
        if self.best is None or acc > self.best["validation_accuracy"]:
            self.best = {"validation_accuracy": float(acc), "examples_seen": self.examples_seen,
                         "epoch": self.epoch, "arrays": self._snapshot_params()}
            self._since_best = 0
            report["best"] = True
            return False
        self._since_best += 1
        return self.early_stop is not None and self._since_best >= self.early_stop

    def restore_best(self):
        """Put the best weights kept back into the net (True), or do nothing (False)."""
        if self.best is None:
            return False
        for a, b in zip(self.net.state_arrays(), self.best["arrays"]):
            np.copyto(a, b)
        return True

    # -- resuming --------------------------------------------------------------------
    def state(self):
        """``(info, arrays)``: where this run is, for ``load_state`` on a run of the same
        experiment (the weights and the trainer are ``engine.checkpoint``'s).

        ``info`` is plain data (JSON): examples seen, batches, epochs, the position in
        the epoch, the evaluation schedule, the random generators' states, the resolved
        learning-rate schedule, the divergence watch, the best validation accuracy.
        ``arrays``: ``order`` (this epoch's data order), ``good`` (the last good
        weights) and ``best`` (the best weights, when kept), as lists of arrays.
        """
        best = None
        if self.best is not None:
            best = {k: v for k, v in self.best.items() if k != "arrays"}
        info = {"examples_seen": int(self.examples_seen), "batches": int(self.batches),
                "epochs": self.epochs, "train_examples": len(self.train_set),
                "position": int(self._pos), "next_eval": int(self._next_eval),
                "eval_every": int(self.eval_every), "rng": generator_state(self.rng),
                "eval_rng": generator_state(self.eval_rng),
                "schedule": None if self.schedule is None else self.schedule.to_dict(),
                "watch": self.watch.state(), "best": best, "since_best": self._since_best,
                "judged": self._judged}
        order = self._order.astype(np.int32) if len(self._order) < 2 ** 31 else self._order.copy()
        arrays = {"order": order, "good": [a.copy() for a in self._good],
                  "best": [] if self.best is None else [a.copy() for a in self.best["arrays"]]}
        return info, arrays

    def load_state(self, info, arrays):
        """Take back what ``state`` gave; DataError if it belongs to other training data."""
        n = len(self.train_set)
        order = np.asarray(arrays["order"])
        if info.get("train_examples") != n or len(order) != n:
            raise DataError(f"the saved run trained on {info.get('train_examples')} images, "
                            f"this one has {n}: not the same training data")
        if len(arrays.get("good", [])) != len(self._good):
            raise DataError("the saved run's weights do not fit this network")
        self.examples_seen = int(info["examples_seen"])
        self.batches = int(info["batches"])
        self.epochs = info.get("epochs")
        self._order = order.astype(np.int64, copy=True)
        self._pos = int(info["position"])
        self._next_eval = int(info["next_eval"])
        self.eval_every = int(info["eval_every"])
        self.rng = generator_from_state(info["rng"])
        self.eval_rng = generator_from_state(info["eval_rng"])
        self.schedule = None if info.get("schedule") is None else Schedule.from_dict(info["schedule"])
        self.watch.load_state(info["watch"])
        self._good = [np.array(a, dtype=g.dtype) for a, g in zip(arrays["good"], self._good)]
        best = info.get("best")
        if best is not None and arrays.get("best"):
            self.best = dict(best, arrays=[np.array(a, dtype=g.dtype)
                                           for a, g in zip(arrays["best"], self._good)])
        else:
            self.best = None
        self._since_best = int(info.get("since_best", 0))
        self._judged = info.get("judged") is True

    def reports(self):
        """Train until done or stopped, yielding reports; blocks while paused."""
        while True:
            self._run_between()
            with self._lock:
                stop, paused, steps = self._stop, self._paused, self._steps
                if paused and steps:
                    self._steps = 0
                self._wake.clear()
            if stop:
                self.finished = True
                yield self._report("stopped")
                return
            if self._remaining() <= 0:
                break
            if paused and not steps:
                self._wake.wait(0.1)
                continue
            # a chunk ends where an evaluation is due, so that it happens where it should
            until = self._next_eval
            if self.report_every:
                until = min(until, (self.examples_seen // self.report_every + 1) * self.report_every)
            r = self.train_batches(max_batches=steps) if paused else \
                self.train_batches(seconds=self.chunk_seconds, until=until)
            yield r
            if r["tag"] == "diverged":
                self.finished = True
                return
            if self.examples_seen >= self._next_eval and self._remaining() > 0:  # (else: the
                # final evaluation below, on every image)
                self._next_eval = (self.examples_seen // self.eval_every + 1) * self.eval_every
                r = self.evaluate(self.eval_examples)
                stop_early = self._track_best(r)
                yield r
                verdict = self._not_learning(r)
                if verdict is not None:
                    yield verdict
                    return
                if stop_early:
                    self.finished = True
                    r = self.evaluate()
                    self._track_best(r)
                    yield r
                    b = self.best
                    yield self._report("done", early_stopped=True, message=(
                        f"Stopped early: the validation accuracy has not improved in "
                        f"{self.early_stop} evaluations since {b['validation_accuracy']:.2%} "
                        f"at {b['examples_seen']:,} examples"))
                    return
        self.finished = True
        r = self.evaluate()
        self._track_best(r)
        yield r
        yield self._not_learning(r) or self._report("done")


#: Learning rates that train the bundled networks with each method (measured on the
#: ConvNetJS demo net: sgd with momentum 0.9 at 0.01 reaches 95% in 0.3 epochs).
SAFE_RATES = {"sgd": 0.1, "nesterov": 0.1, "adagrad": 0.01, "windowgrad": 0.001, "adam": 0.001}


def suggest_learning_rate(method, rate, momentum=0.0):
    """A learning rate to try after ``rate`` diverged: a tenth of it, and no more than a
    rate known to train with this method (None for adadelta, which has no rate)."""
    if method not in SAFE_RATES:
        return None
    safe = SAFE_RATES[method]
    if method in ("sgd", "nesterov"):  # momentum m multiplies the step by about 1/(1-m)
        safe *= max(0.0, 1.0 - min(momentum, 0.999))
    return float(min(rate / 10, safe)) if rate > 0 else safe


#: Examples a run trains on before it may be called "not learning" (see ``Run``). Measured
#: on MNIST with the bundled presets and sgd/adam at rates that train: every one is far
#: above chance by 2,000 examples; 0.5 epoch at rates that do not train sit at 9-11%.
NOT_LEARNING_MIN_EXAMPLES = 5000


def chance_margin(chance, n):
    """How far above ``chance`` an accuracy measured on ``n`` examples must be to count as
    learning: three standard deviations of guessing's accuracy, at least 3 points (or half
    of chance, for many classes)."""
    return max(3 * math.sqrt(chance * (1 - chance) / max(1, n)), min(0.03, chance / 2))


def not_learning_advice(method, rate, momentum=0.0):
    """``(rate to try or None, advice)`` for a run that does not learn: a lower rate when
    ``rate`` is above what trains with ``method``, a higher one when far below it."""
    if method not in SAFE_RATES:
        return None, (f"{method} sets its own step size: try another method (sgd with momentum "
                      f"0.9 at 0.01), and check that the labels match the images")
    safe = SAFE_RATES[method]
    if method in ("sgd", "nesterov"):
        safe *= max(0.0, 1.0 - min(momentum, 0.999))
    if 0 < rate < safe / 3:
        new = float(min(rate * 10, safe))
        return new, f"the learning rate ({rate:g}) may be too low: try {new:g}"
    new = suggest_learning_rate(method, rate, momentum)
    return new, f"the learning rate ({rate:g}) is too high: try {new:g}"


class DivergenceWatch:
    """Tells a run that diverged from one that learns, chunk by chunk.

    Besides NaN (which ``Run`` catches at once), three signs, each measured on the
    ConvNetJS demo net with sgd at rates that do and do not train:
    - the loss blows up: above twice what guessing gives (``ln C`` for softmax, ``C-1``
      for svm) and twice the best so far (for regression ten times the best); sgd with
      momentum 0.9 at 1 or 10 reaches 6-60 within 200 examples, where 2.3 is guessing;
    - the weights explode: their norm fifty times what it was (a run that learns:
      2-6 times over a whole run);
    - accuracy collapses: down to chance (below 1.5/C) twice in a row after having
      been above one half.
    The loss and the accuracy of a chunk of fewer than ``MIN_EXAMPLES`` examples (a
    Step of one batch) are judged together with the next chunks': two batches of ten
    examples at chance after one above one half are luck, not a collapse.
    It also says which chunks left *good* weights, the ones a diverged run goes back
    to: a loss near the best so far (the starting weights' loss on a probe batch
    counts) and weights that did not double in norm within the chunk (a rate that is
    too high multiplies them by 30 in a few steps while the loss still looks fine).
    """

    BLOWUP = 2.0
    WEIGHT_GROWTH = 50.0
    GOOD_GROWTH = 2.0
    MIN_EXAMPLES = 100

    def __init__(self, net, probe=None):
        self.net = net
        t = net.loss_layer.layer_type
        c = net.num_outputs
        self.guess_loss = {"softmax": math.log(c), "svm": float(c - 1)}.get(t)
        self.chance = 1.0 / c if t != "regression" else None
        self.norm0 = self.good_norm = self._norm()
        self.best_loss = math.inf
        if probe is not None:
            with np.errstate(all="ignore"):
                loss = net.trace(probe[0], probe[1], input_grad=False).loss
            if math.isfinite(loss):
                self.best_loss = loss
        self.best_acc = 0.0
        self.low = 0
        self.least_loss = math.inf  # the lowest training loss of a judged chunk (not the probe's)
        self._pool = [0.0, 0.0, 0]  # loss sum, right answers, examples not judged yet

    def state(self):
        """Plain data (JSON) for ``load_state``: what the watch has learnt so far."""
        def num(v):
            return float(v) if math.isfinite(v) else None
        return {"norm0": num(self.norm0), "good_norm": num(self.good_norm),
                "best_loss": num(self.best_loss), "best_acc": float(self.best_acc),
                "low": int(self.low), "pool": [float(self._pool[0]), float(self._pool[1]),
                                               int(self._pool[2])],
                "least_loss": num(self.least_loss)}

    def load_state(self, state):
        def num(v, default):
            return default if v is None else float(v)
        self.norm0 = num(state.get("norm0"), self.norm0)
        self.good_norm = num(state.get("good_norm"), self.good_norm)
        self.best_loss = num(state.get("best_loss"), math.inf)
        self.best_acc = float(state.get("best_acc", 0.0))
        self.low = int(state.get("low", 0))
        self.least_loss = num(state.get("least_loss"), math.inf)
        pool = state.get("pool") or [0.0, 0.0, 0]
        self._pool = [float(pool[0]), float(pool[1]), int(pool[2])]

    def _norm(self):
        params = self.net.flat_buffers()[0]
        with np.errstate(over="ignore", invalid="ignore"):  # exploded weights: an infinite norm
            return math.sqrt(float(np.dot(params, params)))

    def check(self, cost_loss, accuracy=None, examples=None):
        """``(why, good)``: why the run diverged in the chunk just trained (or None), and
        whether its weights are good ones to come back to. ``examples``: how many the
        chunk's loss and accuracy were measured on (None: enough)."""
        if examples is not None:
            pool = self._pool
            pool[0] += cost_loss * examples
            pool[1] += (accuracy or 0.0) * examples
            pool[2] += examples
            if pool[2] < self.MIN_EXAMPLES:
                norm = self._norm()
                if not math.isfinite(norm) or norm > self.WEIGHT_GROWTH * max(self.norm0, 1e-3):
                    return f"The weights grew {norm / max(self.norm0, 1e-12):,.0f} times larger", False
                return None, False
            cost_loss = pool[0] / pool[2]
            accuracy = None if accuracy is None else pool[1] / pool[2]
            self._pool = [0.0, 0.0, 0]
        if self.guess_loss is not None:
            limit = self.BLOWUP * max(self.guess_loss, self.best_loss)
        else:
            limit = 10 * self.best_loss
        self.least_loss = min(self.least_loss, cost_loss)
        if cost_loss > limit:
            return f"The loss blew up to {cost_loss:.3g}", False
        norm = self._norm()
        if not math.isfinite(norm) or norm > self.WEIGHT_GROWTH * max(self.norm0, 1e-3):
            return f"The weights grew {norm / max(self.norm0, 1e-12):,.0f} times larger", False
        if accuracy is not None and self.chance is not None:
            self.low = self.low + 1 if accuracy < 1.5 * self.chance else 0
            if self.best_acc > 0.5 and self.low >= 2:
                return (f"The training accuracy fell from {self.best_acc:.0%} to "
                        f"{accuracy:.0%}, chance level"), False
            self.best_acc = max(self.best_acc, accuracy)
        good = (cost_loss <= 1.5 * self.best_loss + 0.1
                and norm <= self.GOOD_GROWTH * max(self.good_norm, 1e-3))
        self.best_loss = min(self.best_loss, cost_loss)
        if good:
            self.good_norm = norm
        return None, good
