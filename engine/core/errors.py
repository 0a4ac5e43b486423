"""Errors the engine raises for bad input, each with a message meant for a person."""


class EngineError(ValueError):
    """Base class of every error the engine raises on purpose."""


class SpecError(EngineError):
    """An invalid network specification.

    Attributes
    ----------
    layer_index : int or None
        Index, in the list of layer definitions given, of the definition at fault
        (None when the fault is not one layer's, e.g. an empty list).
    """

    def __init__(self, message, layer_index=None):
        super().__init__(message)
        self.layer_index = layer_index


class LimitError(SpecError):
    """A network that would need more memory than the engine's limits allow (``engine.limits``):
    refused before anything is allocated."""


class SnapshotError(EngineError):
    """A snapshot (ConvNetJS JSON) that is malformed, truncated or inconsistent."""


class DataError(EngineError):
    """A batch, label or dataset file that does not fit the network or the format."""


class OptionError(EngineError):
    """A setting outside what it can be: a trainer option, a dtype, a seed, a thread count."""


class Cancelled(Exception):
    """A background computation stopped because its cancel check said so (not an error)."""


class CheckpointError(EngineError):
    """A checkpoint that is not one, is damaged, or does not fit what it is restored into."""
