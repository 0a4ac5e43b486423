"""Learning-rate schedules, applied per example seen.

ConvNetJS's advice: start the learning rate high and anneal it slowly by a few orders
of magnitude. Each schedule maps examples seen to a learning rate.
"""
import math
from dataclasses import asdict, dataclass

KINDS = ("constant", "step", "exponential", "cosine")


@dataclass
class Schedule:
    """``kind`` with its settings; call it with examples seen to get a learning rate.

    - constant: ``base``.
    - step: ``base * factor ** floor(seen / every)``.
    - exponential: ``base * factor ** (seen / every)`` (smooth version of step).
    - cosine: from ``base`` down to ``minimum`` over ``total`` examples, then ``minimum``.
    """
    kind: str = "constant"
    base: float = 0.01
    factor: float = 0.1
    every: int = 60000
    total: int = 600000
    minimum: float = 0.0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown schedule {self.kind!r} (known: {', '.join(KINDS)})")
        if not (self.base >= 0 and math.isfinite(self.base)):
            raise ValueError(f"schedule: the learning rate must be a number >= 0, got {self.base}")
        if self.kind in ("step", "exponential"):
            if self.every <= 0:
                raise ValueError("schedule: 'every' must be a positive number of examples")
            if not 0 < self.factor <= 1:
                raise ValueError("schedule: 'factor' must be in (0, 1]")
        if self.kind == "cosine" and self.total <= 0:
            raise ValueError("schedule: 'total' must be a positive number of examples")

    def __call__(self, seen):
        if self.kind == "step":
            return self.base * self.factor ** (seen // self.every)
        if self.kind == "exponential":
            return self.base * self.factor ** (seen / self.every)
        if self.kind == "cosine":
            t = min(seen / self.total, 1.0)
            return self.minimum + (self.base - self.minimum) * 0.5 * (1 + math.cos(math.pi * t))
        return self.base

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, d):
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        return cls(**known)
