"""Trainers: ConvNetJS's update rules, applied to a whole batch at once."""
import math
import numbers

import numpy as np

from engine.core.errors import OptionError

METHODS = ("sgd", "nesterov", "adagrad", "windowgrad", "adadelta", "adam")

# (key, lowest, highest, lowest allowed, highest allowed, whole number)
_RULES = (("learning_rate", 0.0, None, True, True, False), ("momentum", 0.0, 1.0, True, False, False),
          ("batch_size", 1, 1 << 20, True, True, True), ("l1_decay", 0.0, None, True, True, False),
          ("l2_decay", 0.0, None, True, True, False), ("ro", 0.0, 1.0, True, False, False),
          ("eps", 0.0, None, False, True, False), ("beta1", 0.0, 1.0, True, False, False),
          ("beta2", 0.0, 1.0, True, False, False))


def check_options(opts):
    """Raise OptionError naming the first trainer option that is not a valid value."""
    if opts.get("method") not in METHODS:
        raise OptionError(f"unknown trainer method {opts.get('method')!r} (known: {', '.join(METHODS)})")
    for key, lo, hi, lo_in, hi_in, whole in _RULES:
        v = opts.get(key)
        what = f"trainer: the {key.replace('_', ' ')} ('{key}')"
        try:  # (an int too large for a float is no option either)
            finite = not isinstance(v, bool) and isinstance(v, numbers.Real) and math.isfinite(v)
        except OverflowError:
            finite = False
        if not finite:
            raise OptionError(f"{what} must be a number, got {v!r}"[:200])
        if whole and v != int(v):
            raise OptionError(f"{what} must be a whole number, got {v!r}")
        if v < lo if lo_in else v <= lo:
            raise OptionError(f"{what} must be {'at least' if lo_in else 'above'} {lo:g}, got {v!r}")
        if hi is not None and (v > hi if hi_in else v >= hi):
            raise OptionError(f"{what} must be {'at most' if hi_in else 'below'} {hi:g}, got {v!r}")


class Trainer:
    """Updates a net's parameters from batches, as ConvNetJS's ``Trainer`` does.

    For every method but adam one call to ``train(x, y)`` equals ConvNetJS's
    trainer with ``batch_size = len(x)``: the step uses
    ``g = mean_grad + (l2_decay*l2_mul*p + l1_decay*l1_mul*sign(p)) / N``.
    Adam is Kingma & Ba's (bias correction by update count) on the same ``g``.
    Every option is a plain attribute that takes effect at the next call.
    """

    def __init__(self, net, method="sgd", learning_rate=0.01, momentum=0.9, batch_size=1,
                 l1_decay=0.0, l2_decay=0.0, ro=0.95, eps=1e-8, beta1=0.9, beta2=0.999):
        self.net = net
        self.method = method
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.batch_size = batch_size
        self.l1_decay = l1_decay
        self.l2_decay = l2_decay
        self.ro = ro
        self.eps = eps
        self.beta1 = beta1
        self.beta2 = beta2
        self.k = 0          # examples seen
        self.updates = 0    # parameter updates made
        self.gsum = None    # per-parameter first accumulators
        self.xsum = None    # per-parameter second accumulators (adadelta, adam)
        self._state_method = None
        self._checked = None
        self._check()

    def _check(self):
        """Check the options when they changed since the last step (they are plain attributes)."""
        key = (self.method, self.learning_rate, self.momentum, self.batch_size, self.l1_decay,
               self.l2_decay, self.ro, self.eps, self.beta1, self.beta2)
        if key != self._checked:
            check_options(self.options())
            self._checked = key

    def options(self):
        keys = ("method", "learning_rate", "momentum", "batch_size", "l1_decay", "l2_decay",
                "ro", "eps", "beta1", "beta2")
        return {k: getattr(self, k) for k in keys}

    def reset(self):
        """Forget accumulated state and counts (after the net's weights are reinitialised)."""
        self.reset_state()
        self.k = self.updates = 0

    def reset_state(self):
        """Forget the per-parameter accumulators (momentum, adagrad sums, ...)."""
        self.gsum = self.xsum = None

    def state(self):
        """``(info, arrays)``: what a resumed run needs to take the same next step.

        ``info`` is plain data (the options, examples seen ``k``, ``updates``, which
        method the accumulators belong to); ``arrays`` holds the accumulators ``gsum``
        and ``xsum`` (copies; empty before the first update).
        """
        info = {"options": self.options(), "k": int(self.k), "updates": int(self.updates),
                "state_method": self._state_method}
        arrays = {} if self.gsum is None else {"gsum": self.gsum.copy(), "xsum": self.xsum.copy()}
        return info, arrays

    def load_state(self, info, arrays):
        """Take back what ``state`` gave (OptionError for options that are not valid)."""
        opts = info.get("options") or {}
        check_options({**self.options(), **opts})
        for key, value in opts.items():
            setattr(self, key, value)
        self.k = int(info.get("k", 0))
        self.updates = int(info.get("updates", 0))
        p = self.net.flat_buffers()[0]
        if "gsum" in arrays and "xsum" in arrays:
            for key in ("gsum", "xsum"):
                if arrays[key].shape != p.shape:
                    raise OptionError(f"trainer state: {key} holds {arrays[key].size} values, "
                                      f"the network {p.size} parameters")
            self.gsum = np.array(arrays["gsum"], dtype=p.dtype)
            self.xsum = np.array(arrays["xsum"], dtype=p.dtype)
            self._state_method = info.get("state_method") or self.method
        else:
            self.reset_state()
            self._state_method = None
        self._checked = None

    def train(self, x, y):
        """One update from the batch ``(x, y)``; returns losses and timings."""
        self._check()
        _, cost_loss, fwd_time, bwd_time = self.net.train_step(x, y)
        n = len(x) if np.ndim(x) == 4 else 1
        l1, l2 = self.update(n)
        self.k += n
        return {"cost_loss": cost_loss, "softmax_loss": cost_loss, "l1_decay_loss": l1,
                "l2_decay_loss": l2, "loss": cost_loss + l1 + l2,
                "fwd_time": fwd_time, "bwd_time": bwd_time, "batch_size": n}

    def update(self, n):
        """Apply one step from the gradients the net holds (a batch of ``n`` examples)."""
        self._check()
        p, g, l1_mul, l2_mul = self.net.flat_buffers()
        if self.gsum is None or self._state_method != self.method or self.gsum.shape != p.shape:
            self.gsum = np.zeros_like(p)
            self.xsum = np.zeros_like(p)
            self._state_method = self.method
        self.updates += 1
        dt = p.dtype.type
        l1, l2 = self.l1_decay, self.l2_decay
        l1_loss = l2_loss = 0.0
        gij = g
        # The whole net's parameters are one flat array, so the ConvNetJS update
        # with per-parameter decay multipliers is a handful of vector operations.
        if l2:
            decay = l2_mul * dt(l2)
            decay *= p
            l2_loss = 0.5 * float(np.dot(decay, p))
            decay *= dt(1.0 / n)
            decay += g
            gij = decay
        if l1:
            l1v = l1_mul * dt(l1)
            l1_loss = float(np.dot(l1v, np.abs(p)))
            # ConvNetJS's sign: +1 where p > 0, else -1 (also at 0).
            step = np.where(p > 0, l1v, -l1v)
            step *= dt(1.0 / n)
            gij = gij + step
        self._step(p, gij, self.gsum, self.xsum, dt)
        return l1_loss, l2_loss

    def _step(self, p, gij, gs, xs, dt):
        method, lr, mom = self.method, self.learning_rate, self.momentum
        ro, eps = self.ro, self.eps
        if method == "adam":
            b1, b2, t = self.beta1, self.beta2, self.updates
            # p -= lr * m_hat / (sqrt(v_hat) + eps), m_hat = gs / (1 - b1^t), v_hat = xs / (1 - b2^t),
            # in one scratch array: the update of the strong net's 163k parameters was
            # 6% of a step in ten passes with seven temporaries.
            tmp = np.multiply(gij, dt(1 - b1))
            gs *= b1
            gs += tmp
            np.multiply(gij, gij, out=tmp)
            tmp *= dt(1 - b2)
            xs *= b2
            xs += tmp
            np.sqrt(xs, out=tmp)
            tmp *= dt(1.0 / math.sqrt(1 - b2 ** t))
            tmp += dt(eps)
            np.divide(gs, tmp, out=tmp)
            tmp *= dt(lr / (1 - b1 ** t))
            p -= tmp
        elif method == "adagrad":
            gs += gij * gij
            p -= dt(lr) * gij / np.sqrt(gs + dt(eps))
        elif method == "windowgrad":
            gs *= ro
            gs += dt(1 - ro) * gij * gij
            p -= dt(lr) * gij / np.sqrt(gs + dt(eps))
        elif method == "adadelta":
            sq = gij * gij
            sq *= dt(1 - ro)
            gs *= ro
            gs += sq
            dx = xs + dt(eps)
            dx /= gs + dt(eps)
            np.sqrt(dx, out=dx)
            dx *= gij
            p -= dx
            np.multiply(dx, dx, out=sq)
            sq *= dt(1 - ro)
            xs *= ro
            xs += sq
        elif method == "nesterov":
            dx = gs.copy()
            gs *= mom
            gs += dt(lr) * gij
            p += dt(mom) * dx - dt(1.0 + mom) * gs
        elif mom > 0:  # sgd with momentum
            gs *= mom
            gs -= dt(lr) * gij
            p += gs
        else:
            p -= dt(lr) * gij
