"""The training coach: per-layer diagnostics while a run trains, and alerts with a fix.

Every ``probe_every`` examples the coach looks at one training step closely:

- the **update-to-weight ratio** of each layer with weights, ``|dW| / |W|`` of that
  step (a healthy run makes steps of about 1e-3 of the weights; 1e-5 and less is
  hardly moving, 1e-1 and more is thrashing);
- the **gradient norm** of each layer's weights, from that step's batch;
- the **dead fraction** of each ReLU layer: of its channels (a conv's feature maps, an
  fc's neurons), the share that give zero for every image of a fixed probe batch
  (``probe_examples`` training images, an inference pass).

That costs one copy of the weights and one forward pass of the probe batch per probe
(after 500, 1,000, 2,000, 4,000, 8,000 examples at first, then every ``probe_every``): about
4 ms a probe, 1-2% of the training time of the demo net (measured in docs/experiments.md).

Alerts, each raised once when its sign appears (again only after it went away):

- ``rate_too_high``: the run diverged (the loss NaN or blowing up, the weights
  exploding, accuracy collapsing: ``engine.training.DivergenceWatch`` decides, and the
  coach says what it said), or updates larger than a tenth of the weights on two probes
  in a row;
- ``stuck_at_chance``: training accuracy still at chance after ``stuck_after`` examples,
  with the likely cause (dead units, a rate too low or too high);
- ``dead_relus``: most channels of a ReLU layer dead on two probes in a row;
- ``overfitting``: validation accuracy of the last three evaluations below that of the
  best three in a row by more than three standard errors of the difference (an accuracy
  measured on a sample of images is noisy), while training accuracy rose and is above it;
- ``updates_tiny``: updates below ``tiny_ratio`` of the weights on three probes in a
  row while the loss is not falling and still above half of what guessing gives (a rate
  too low).

An alert is plain data: ``{"kind", "message", "examples_seen", "layer" (or None),
"fixes": [{"label", "changes", "live"}]}``, where ``changes`` is a dict of
``engine.settings`` names to new values (``{"learning_rate": 0.001}``,
``{"layers.1.activation": "leaky_relu"}``) and ``live`` says whether a running trainer
takes it (``engine.session.Training.change_settings``) or it needs a new run. The first
fix is the one to offer as the one-click fix.

Use: ``Run(..., coach=Coach())`` (or ``make_run(experiment, ..., coach=Coach())``). The
run calls ``attach``, ``before_step``/``after_step`` around each batch and ``review``
on each report, which gains ``diagnostics`` (after a probe) and ``alerts`` (new ones).
``coach.diagnostics`` is the latest, ``coach.alerts`` every alert raised so far.
"""
import collections
import math
import time

import numpy as np

from engine.data.containers import network_input


def _norm(a):
    a = a.ravel()
    return math.sqrt(float(np.dot(a, a)))


class Coach:
    """Watches a ``Run`` (see the module's docstring).

    Parameters
    ----------
    probe_every : int
        Examples between probes.
    probe_examples : int
        Training images in the probe batch (fixed for the run).
    dead_fraction : float
        A ReLU layer with at least this share of dead channels raises ``dead_relus``.
    stuck_after : int
        Examples after which accuracy at chance raises ``stuck_at_chance``.
    tiny_ratio, huge_ratio : float
        Update-to-weight ratios below / above which steps are too small / too big.
    """

    KEEP_EXAMPLES = 10_000  # of progress kept for the checks

    def __init__(self, probe_every=10000, probe_examples=64, dead_fraction=0.6,
                 stuck_after=10000, tiny_ratio=1e-4, huge_ratio=0.1):
        self.probe_every = int(probe_every)
        self.probe_examples = int(probe_examples)
        self.dead_threshold = dead_fraction
        self.stuck_after = stuck_after
        self.tiny_ratio = tiny_ratio
        self.huge_ratio = huge_ratio
        self.run = None
        self.diagnostics = None
        self.history = collections.deque(maxlen=1000)  # the latest probes' diagnostics
        self.alerts = []            # every alert raised
        self.active = set()         # kinds whose sign is showing now
        self.seconds = 0.0          # time the coach spent
        self._new_alerts = []
        self._new_diag = None
        self._before = None
        self._next_probe = 0
        self._dead_streak = {}
        self._tiny_streak = 0
        self._huge_streak = 0
        self._largest_ratio = None  # the largest median update ratio seen, and where
        # (examples_seen, train_accuracy, cost_loss, examples) of the last KEEP_EXAMPLES
        # examples (the checks look at 4,000 at most; a run of days must not grow it)
        self._progress = collections.deque()
        self._evals = []            # (examples_seen, validation_accuracy, n, train_accuracy)

    # -- the run's hooks -----------------------------------------------------------------
    def attach(self, run):
        """Called by ``Run`` when it is made: the probe batch and the layers to watch."""
        self.run = run
        net = run.net
        train = run.train_set
        n = min(self.probe_examples, len(train))
        idx = np.sort(np.random.default_rng(12345).choice(len(train), n, replace=False)) if n else []
        self._probe = network_input(train.images[idx], net.input_shape) if n else None
        self._layers = [(i, l) for i, l in enumerate(net.layers) if l.params_and_grads()]
        self._relus = [i for i, l in enumerate(net.layers) if l.layer_type == "relu"]
        self._next_probe = run.examples_seen

    def before_step(self):
        run = self.run
        if run.examples_seen < self._next_probe:
            return
        t0 = time.perf_counter()
        self._before = [pg["params"].copy() for _, l in self._layers for pg in l.params_and_grads()[:1]]
        self.seconds += time.perf_counter() - t0

    def after_step(self, stats):
        if self._before is None:
            return
        t0 = time.perf_counter()
        run = self.run
        before, self._before = self._before, None
        # probes close together at first (every 500 examples, then twice as far apart up to
        # probe_every): a rate that is far too high does its damage in the first thousands
        self._next_probe = run.examples_seen + min(self.probe_every, max(500, run.examples_seen))
        layers = []
        for (i, layer), w0 in zip(self._layers, before):
            pg = layer.params_and_grads()[0]
            w = pg["params"]
            wn = _norm(w)
            with np.errstate(all="ignore"):
                step = _norm(w - w0)
            layers.append({"index": i, "type": layer.layer_type, "name": layer.describe(),
                           "source_index": getattr(layer, "source_index", None),
                           "weight_norm": wn, "grad_norm": _norm(pg["grads"]),
                           "update_ratio": step / wn if wn > 0 and math.isfinite(step) else None,
                           "dead_fraction": None})
        if self._probe is not None and self._relus:
            with np.errstate(all="ignore"):
                acts = run.net.trace(self._probe).acts
            alive = {i: acts[i].reshape(-1, acts[i].shape[-1]).max(axis=0) > 0 for i in self._relus}
            for i in self._relus:
                layers.append({"index": i, "type": "relu", "name": run.net.layers[i].describe(),
                               "source_index": getattr(run.net.layers[i], "source_index", None),
                               "dead_fraction": float(1.0 - np.mean(alive[i])), "weight_norm": None,
                               "grad_norm": None, "update_ratio": None})
        layers.sort(key=lambda d: d["index"])
        ratios = [d["update_ratio"] for d in layers if d["update_ratio"] is not None]
        self.diagnostics = self._new_diag = {
            "examples_seen": run.examples_seen, "layers": layers,
            "median_update_ratio": float(np.median(ratios)) if ratios else None,
            "max_dead_fraction": max((d["dead_fraction"] for d in layers
                                      if d["dead_fraction"] is not None), default=None)}
        self.history.append(self.diagnostics)
        self._check_probe(self.diagnostics)
        self.seconds += time.perf_counter() - t0

    def review(self, report):
        """Add ``diagnostics`` (after a probe) and new ``alerts`` to one of the run's reports."""
        t0 = time.perf_counter()
        tag = report["tag"]
        if tag == "progress" and report.get("examples"):
            self._progress.append((report["examples_seen"], report.get("train_accuracy"),
                                   report.get("cost_loss"), report["examples"]))
            while len(self._progress) > 2 and self._progress[0][0] < report["examples_seen"] - self.KEEP_EXAMPLES:
                self._progress.popleft()
            self._check_progress(report)
        elif tag == "eval" and report.get("validation_accuracy") is not None:
            self._check_eval(report)
        elif tag == "diverged":
            self._diverged(report)
        if self._new_diag is not None:
            report["diagnostics"] = self._new_diag
            self._new_diag = None
        if self._new_alerts:
            report["alerts"] = self._new_alerts
            self._new_alerts = []
        self.seconds += time.perf_counter() - t0

    # -- alerts ------------------------------------------------------------------------------
    def _raise(self, kind, message, fixes, layer=None):
        if kind in self.active:
            return
        self.active.add(kind)
        alert = {"kind": kind, "message": message, "examples_seen": self.run.examples_seen,
                 "layer": layer, "fixes": fixes}
        self.alerts.append(alert)
        self._new_alerts.append(alert)

    def _clear(self, kind):
        self.active.discard(kind)

    def _trainer(self):
        return self.run.trainer

    def _lower_rate_fix(self):
        from engine.runs.run import suggest_learning_rate
        t = self._trainer()
        rate = suggest_learning_rate(t.method, t.learning_rate, t.momentum)
        if rate is None:  # adadelta: no rate; a smaller eps makes its steps smaller
            return {"label": f"make adadelta's eps smaller ({t.eps:g} -> {t.eps / 100:g})",
                    "changes": {"eps": t.eps / 100}, "live": True}
        return {"label": f"lower the learning rate to {rate:g}",
                "changes": {"learning_rate": rate}, "live": True}

    def _raise_rate_fix(self):
        t = self._trainer()
        if t.method == "adadelta":
            return {"label": f"make adadelta's eps larger ({t.eps:g} -> {t.eps * 100:g})",
                    "changes": {"eps": min(1e-2, t.eps * 100)}, "live": True}
        rate = float(f"{t.learning_rate * 10:.2g}") if t.learning_rate > 0 else 0.01
        return {"label": f"raise the learning rate to {rate:g}", "changes": {"learning_rate": rate},
                "live": True}

    def _where(self, d):
        """Where a diagnostics entry's layer is, in the words of the layer definitions."""
        src = d.get("source_index")
        net = self.run.net
        if src is None:
            return f"(layer {d['index']})"
        before = [l for l in net.layers[:d["index"]] if getattr(l, "source_index", None) == src]
        what = before[0].describe() if before else net.layers[d["index"]].describe()
        return f"of layer {src} ({what})"

    def _leaky_fix(self, relu_index):
        """Turn the ReLU at ``relu_index`` (expanded layers) into a leaky ReLU (a new run)."""
        layer = self.run.net.layers[relu_index]
        src = getattr(layer, "source_index", None)
        defs = self.run.net.layer_defs
        if src is None or not isinstance(defs, list) or src >= len(defs):
            return None
        d = defs[src]
        if d.get("type") == "relu":
            changes = {f"layers.{src}.type": "leaky_relu"}
        elif d.get("activation") == "relu":
            changes = {f"layers.{src}.activation": "leaky_relu"}
        else:
            return None
        return {"label": f"use a leaky ReLU after layer {src} (a new run)", "changes": changes,
                "live": False}

    def _diverged(self, report):
        fixes = [self._lower_rate_fix()]
        self._raise("rate_too_high", report.get("message") or "the run diverged", fixes)

    def _check_probe(self, diag):
        # steps as large as a tenth of the weights: too high, before the loss shows it
        r = diag["median_update_ratio"]
        # (two probes in a row: adadelta's very first steps are large, and right)
        self._huge_streak = self._huge_streak + 1 if r is not None and r > self.huge_ratio else 0
        if r is not None and (self._largest_ratio is None or r > self._largest_ratio[0]):
            self._largest_ratio = (r, diag["examples_seen"])
        if self._huge_streak >= 2:
            self._raise("rate_too_high",
                        f"each step changes the weights by {r:.0%} of their size (a run that "
                        f"learns: about 0.1%): the learning rate is too high", [self._lower_rate_fix()])
        # dead ReLUs on two probes in a row
        worst = None
        for d in diag["layers"]:
            if d["dead_fraction"] is None:
                continue
            i = d["index"]
            if d["dead_fraction"] >= self.dead_threshold:
                self._dead_streak[i] = self._dead_streak.get(i, 0) + 1
                if self._dead_streak[i] >= 2 and (worst is None or d["dead_fraction"] > worst["dead_fraction"]):
                    worst = d
            else:
                self._dead_streak[i] = 0
        if worst is not None:
            fixes = [self._lower_rate_fix()]
            leaky = self._leaky_fix(worst["index"])
            if leaky:
                fixes.append(leaky)
            big = self._largest_ratio
            if big is not None and big[0] > self.huge_ratio:
                # steps of a tenth of the weights, then dead units: the rate did it
                self._raise("rate_too_high",
                            f"steps of {big[0]:.0%} of the weights (at {big[1]:,} examples; a run "
                            f"that learns: about 0.1%) left {worst['dead_fraction']:.0%} of the "
                            f"channels of the ReLU {self._where(worst)} dead: the learning rate "
                            f"is too high", fixes, layer=worst["index"])
            else:
                self._raise("dead_relus",
                            f"{worst['dead_fraction']:.0%} of the channels of the ReLU "
                            f"{self._where(worst)} give zero for every probe image: dead units, "
                            f"usually from a learning rate that was too high", fixes,
                            layer=worst["index"])
        elif not any(v >= 2 for v in self._dead_streak.values()):
            self._clear("dead_relus")
        # tiny updates on three probes in a row while the loss is not falling
        if r is not None and r < self.tiny_ratio:
            self._tiny_streak += 1
        else:
            self._tiny_streak = 0
            self._clear("updates_tiny")
        if self._tiny_streak >= 3 and not self._loss_falling() and self._loss_high():
            self._raise("updates_tiny",
                        f"each step changes the weights by {r:.1e} of their size (a run that "
                        f"learns: about 1e-3) and the loss stays high: the learning rate is "
                        f"too low", [self._raise_rate_fix()])

    def _recent(self, examples):
        """Training accuracy and loss over the last ``examples`` examples of progress."""
        acc = loss = n = 0.0
        for _seen, a, l, k in reversed(self._progress):
            if n >= examples:
                break
            if a is None or l is None or not (math.isfinite(a) and math.isfinite(l)):
                continue
            acc += a * k
            loss += l * k
            n += k
        return (acc / n, loss / n, n) if n else (None, None, 0)

    def _loss_high(self):
        """Whether the recent loss is still above half of what guessing gives (a run that has
        learnt makes small steps and a flat loss for good reasons)."""
        guess = self.run.watch.guess_loss
        _, loss, n = self._recent(2000)
        return guess is None or (n and loss > 0.5 * guess)

    def _loss_falling(self):
        """Whether the loss of the last 2,000 examples is clearly below that of the 2,000
        before them."""
        recent, older, n = [], [], 0
        for _seen, _a, l, k in reversed(self._progress):
            if l is None or not math.isfinite(l):
                continue
            (recent if n < 2000 else older).append((l, k))
            n += k
            if n >= 4000:
                break
        if not recent or not older:
            return True  # too early to tell
        mean = lambda xs: sum(l * k for l, k in xs) / sum(k for _, k in xs)  # noqa: E731
        return mean(recent) < 0.97 * mean(older)

    def _check_progress(self, report):
        watch = self.run.watch
        if watch.chance is None or self.run.examples_seen < self.stuck_after:
            return
        acc, _, n = self._recent(2000)
        if acc is None:
            return
        if acc >= 1.5 * watch.chance:
            self._clear("stuck_at_chance")
            return
        diag = self.diagnostics or {}
        dead, ratio = diag.get("max_dead_fraction"), diag.get("median_update_ratio")
        if dead is not None and dead >= self.dead_threshold:
            why, fixes = "most units of a ReLU layer are dead", [self._lower_rate_fix()]
            relu = max((d for d in diag["layers"] if d["dead_fraction"] is not None),
                       key=lambda d: d["dead_fraction"])
            leaky = self._leaky_fix(relu["index"])
            if leaky:
                fixes.append(leaky)
        elif ratio is not None and ratio < 1e-4:
            why, fixes = "the steps are tiny against the weights: the rate is too low", \
                [self._raise_rate_fix()]
        elif ratio is not None and ratio > 1e-2:
            why, fixes = "the steps are large against the weights: the rate is too high", \
                [self._lower_rate_fix()]
        else:
            why, fixes = ("neither dead units nor the step size explain it: try another rate, "
                          "and check that the labels fit the images"), [self._raise_rate_fix(),
                                                                          self._lower_rate_fix()]
        self._raise("stuck_at_chance",
                    f"training accuracy is {acc:.0%} after {self.run.examples_seen:,} examples, "
                    f"chance level ({watch.chance:.0%}): {why}", fixes)

    def _check_eval(self, report):
        val = report["validation_accuracy"]
        n = report.get("validation_examples") or 1000
        train_acc, _, _ = self._recent(2000)
        self._evals.append((report["examples_seen"], val, n, train_acc))
        w = 3  # evaluations pooled: one of 1,000 images is off by 0.5-1% by chance
        if len(self._evals) < 2 * w:
            return

        def pool(evals):
            k = sum(e[2] for e in evals)
            v = sum(e[1] * e[2] for e in evals) / k
            ts = [e[3] for e in evals if e[3] is not None]
            return v, k, (sum(ts) / len(ts) if ts else None)

        recent_v, recent_n, recent_t = pool(self._evals[-w:])
        windows = [pool(self._evals[i:i + w]) for i in range(len(self._evals) - 2 * w + 1)]
        peak_v, peak_n, peak_t = max(windows, key=lambda x: x[0])

        def var(v, k):  # the sampling variance of an accuracy measured on k images
            return max(v * (1 - v), 1e-4) / k

        # the last three evaluations below the best three in a row, by more than three
        # standard errors of the difference, while training accuracy went up and is above
        # the validation accuracy (a network that learns its training images by heart)
        margin = max(0.005, 3 * math.sqrt(var(peak_v, peak_n) + var(recent_v, recent_n)))
        falling = peak_v - recent_v > margin
        rising = None not in (recent_t, peak_t) and recent_t > peak_t and recent_t > recent_v
        if not (falling and rising):
            if peak_v - recent_v <= margin / 2:
                self._clear("overfitting")
            return
        best, v2, t2 = peak_v, recent_v, recent_t
        fixes = []
        t = self._trainer()
        l2 = float(f"{t.l2_decay * 10:.2g}") if t.l2_decay > 0 else 1e-3
        fixes.append({"label": f"more weight decay (l2_decay {t.l2_decay:g} -> {l2:g})",
                      "changes": {"l2_decay": l2}, "live": True})
        aug = self.run.augment
        if not aug.shift:
            fixes.append({"label": "augment: shift the images by up to 2 pixels",
                          "changes": {"augment.shift": 2}, "live": True})
        drop = self._dropout_fix()
        if drop:
            fixes.append(drop)
        self._raise("overfitting",
                    f"validation accuracy fell from {best:.2%} (its best three evaluations) to "
                    f"{v2:.2%} (the last three) while training accuracy rose to {t2:.2%}: the "
                    f"network is learning the training images by heart", fixes)

    def _dropout_fix(self):
        """Dropout before the loss layer's fc: on the last hidden fc or conv definition."""
        defs = self.run.net.layer_defs
        if not isinstance(defs, list):
            return None
        for i in range(len(defs) - 2, 0, -1):
            if defs[i].get("type") in ("fc", "conv"):
                if defs[i].get("drop_prob"):
                    return None
                return {"label": f"dropout 0.5 after layer {i} (a new run)",
                        "changes": {f"layers.{i}.drop_prob": 0.5}, "live": False}
        return None
