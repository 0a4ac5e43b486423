"""A pass through a network, owned by whoever asked for it."""


class Trace:
    """What one pass of a batch through a ``Net`` computed.

    Attributes
    ----------
    acts : list of ndarray
        Each layer's output batch ``(N, sy, sx, depth)``, in ``net.layers`` order.
    grads : list of (ndarray or None), or None
        When targets were given: each layer's output gradient (of the mean loss),
        ``None`` where there is none (the loss layer; the input layer unless the
        input gradient was asked for). ``None`` for a forward-only trace.
    loss : float or None
        The mean cost loss, when targets were given.
    param_grads : list of ndarray, or None
        The parameter gradients, in ``net.params_and_grads()`` order.
    """

    def __init__(self, acts, grads=None, loss=None, param_grads=None):
        self.acts = acts
        self.grads = grads
        self.loss = loss
        self.param_grads = param_grads

    @property
    def output(self):
        """The last layer's output (probabilities, scores or values)."""
        return self.acts[-1]

    @property
    def input_grad(self):
        """The gradient with respect to the input batch (None unless asked for)."""
        return None if self.grads is None else self.grads[0]
