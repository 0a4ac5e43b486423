"""Every layer type of the engine, by its ConvNetJS name."""
from engine.core.layers.dotproducts import ConvLayer, FullyConnLayer
from engine.core.layers.dropout import DropoutLayer
from engine.core.layers.loss import InputLayer, RegressionLayer, SoftmaxLayer, SVMLayer
from engine.core.layers.nonlinearities import LeakyReluLayer, MaxoutLayer, ReluLayer, SigmoidLayer, TanhLayer
from engine.core.layers.normalization import BatchNormLayer, LocalResponseNormalizationLayer
from engine.core.layers.pool import PoolLayer

LAYER_TYPES = {cls.layer_type: cls for cls in (
    InputLayer, ConvLayer, PoolLayer, FullyConnLayer, ReluLayer, LeakyReluLayer, SigmoidLayer,
    TanhLayer, MaxoutLayer, DropoutLayer, LocalResponseNormalizationLayer, BatchNormLayer,
    SoftmaxLayer, SVMLayer, RegressionLayer)}

LOSS_TYPES = ("softmax", "svm", "regression")

__all__ = ["LAYER_TYPES", "LOSS_TYPES"] + [c.__name__ for c in LAYER_TYPES.values()]
