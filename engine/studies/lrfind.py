"""The learning-rate finder: sweep the rate exponentially over a few hundred batches and
suggest one (Leslie Smith's range test, as fast.ai's ``lr_find`` made it popular).

It trains a *copy* of the network (the weights given never change) with the experiment's
trainer, raising the learning rate from ``start`` to ``end`` by the same factor every
batch, and follows the loss smoothed over the last batches (an exponential average with
bias correction). The sweep stops when that loss is four times its lowest or stops being
a number. The suggestion is a tenth of the rate where the smoothed loss was lowest: past
that point the steps are already too big, and a tenth of it sits on the steep part of
the curve, where the loss falls fastest.

adadelta has no learning rate (it sets its own step from the gradients' history), so for
it the finder returns no suggestion and says why.

    result = find_learning_rate(experiment, dataset)     # a dict, plain data
    result["suggested_learning_rate"], result["rates"], result["losses"]

``progress(fraction)`` and ``cancelled()`` (``engine.tasks``) let the app run it on a worker
thread; a cancelled sweep raises ``engine.errors.Cancelled``.
"""
import math
import time

import numpy as np

from engine.core.tasks import Reporter
from engine.data.containers import to_float

#: Methods whose step does not scale with ``learning_rate``.
NO_RATE = {"adadelta": "adadelta sets its own step size from the history of the gradients and "
                       "of its steps; it has no learning rate to find (try a smaller 'eps' to "
                       "make its first steps smaller)"}


def find_learning_rate(experiment, dataset, net=None, start=1e-6, end=10.0, batches=300,
                       seconds=10.0, smoothing=0.98, blowup=4.0, progress=None, cancelled=None,
                       seed=0):
    """Sweep the learning rate and suggest one.

    Parameters
    ----------
    experiment : engine.experiment.Experiment
        The network, the trainer and its options (method, momentum, batch size, decay),
        augmentation and the validation split (the sweep uses the training part).
    dataset : engine.data.Dataset
    net : engine.Net, optional
        Start from (a copy of) these weights; default: fresh weights from the experiment.
    start, end : float
        The first and the largest rate tried.
    batches : int
        Batches over which the rate goes from ``start`` to ``end``.
    seconds : float
        Time allowed; the sweep ends early (with what it has seen) when it runs out.
    progress : callable(fraction), optional
    cancelled : callable() -> bool, optional
        Asked before every batch; True raises ``engine.errors.Cancelled``.

    Returns
    -------
    dict
        ``suggested_learning_rate`` (None for adadelta, or when the loss never fell),
        ``reason`` (a sentence), ``method``, ``rates``, ``losses`` (smoothed) and
        ``raw_losses`` per batch, ``min_loss_rate``, ``batches``, ``examples``,
        ``seconds``, ``ended`` ("blew up", "end", "time", "no rate").
    """
    t0 = time.perf_counter()
    method = experiment.trainer["method"]
    out = {"method": method, "suggested_learning_rate": None, "reason": None, "rates": [],
           "losses": [], "raw_losses": [], "min_loss_rate": None, "batches": 0, "examples": 0,
           "seconds": 0.0, "ended": None}
    if method in NO_RATE:
        out.update(reason=NO_RATE[method], ended="no rate")
        return out
    if not (0 < start < end) or not all(map(math.isfinite, (start, end))):
        raise ValueError(f"lr-find: the rates must go up from above 0, got {start} to {end}")
    if batches < 10:
        raise ValueError(f"lr-find: at least 10 batches are needed, got {batches}")
    model = net.copy() if net is not None else experiment.build_net(seed=seed if experiment.seed is None
                                                                    else None)
    trainer = experiment.build_trainer(model)
    train, _ = experiment.splits(dataset)
    augment = experiment.build_augment(model, train.shape)
    rng = np.random.default_rng(seed)
    factor = (end / start) ** (1.0 / (batches - 1))
    bs = max(1, min(trainer.batch_size, len(train)))
    order = rng.permutation(len(train))
    pos = 0
    avg = 0.0
    best = math.inf
    best_rate = None
    ended = "end"
    reporter = Reporter(progress, cancelled)
    for i in range(batches):
        reporter.check()
        if time.perf_counter() - t0 > seconds:
            ended = "time"
            break
        rate = start * factor ** i
        trainer.learning_rate = rate
        if pos + bs > len(order):
            order, pos = rng.permutation(len(train)), 0
        idx = np.sort(order[pos:pos + bs])
        pos += bs
        x = to_float(augment(train.images[idx], rng))
        with np.errstate(all="ignore"):
            loss = trainer.train(x, train.labels[idx])["cost_loss"]
        out["batches"] += 1
        out["examples"] += bs
        if not math.isfinite(loss):
            ended = "blew up"
            break
        avg = smoothing * avg + (1 - smoothing) * loss
        smooth = avg / (1 - smoothing ** (i + 1))
        out["rates"].append(rate)
        out["raw_losses"].append(float(loss))
        out["losses"].append(float(smooth))
        if smooth < best:
            best, best_rate = smooth, rate
        reporter.progress((i + 1) / batches)
        if i > 10 and smooth > blowup * best:
            ended = "blew up"
            break
    out["ended"] = ended
    out["seconds"] = round(time.perf_counter() - t0, 3)
    losses = out["losses"]
    if best_rate is None or len(losses) < 10 or best >= 0.98 * losses[min(len(losses) - 1, 5)]:
        out["reason"] = (f"the loss never fell between learning rates {start:g} and "
                         f"{out['rates'][-1] if out['rates'] else start:g}: the network or the "
                         f"data may be at fault")
        return out
    out["min_loss_rate"] = best_rate
    rate = float(f"{best_rate / 10:.2g}")
    out["suggested_learning_rate"] = rate
    out["reason"] = (f"the loss fell fastest below {best_rate:.2g}, where it was lowest "
                     f"({best:.3g}), and rose past it; a tenth of that trains steadily")
    return out
