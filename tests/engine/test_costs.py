"""Each layer's cost per example: multiply-adds of one forward pass and output bytes.

``macs`` counts the products of weights and inputs (conv: every output position, padded
cells included, times the filter volume, times the filters; fc: inputs times neurons);
every other layer's is 0. ``act_bytes`` is ``4 * out_sx * out_sy * out_depth``.
"""
import numpy as np
import pytest

import engine
from engine.core.spec import check, cost_totals
from engine.runs.experiment import preset


def costs(defs):
    return [(s["type"], s["macs"], s["act_bytes"]) for s in engine.infer_shapes(defs)]


def test_convnetjs_demo_net():
    shapes = engine.infer_shapes(preset("convnetjs-demo").layer_defs)
    assert [(s["type"], s["macs"]) for s in shapes if s["macs"]] == [
        ("conv", 115_200), ("conv", 460_800), ("fc", 2_560)]
    # 24x24x8 after conv 1: 4 bytes each
    assert [s["act_bytes"] for s in shapes] == [
        2304, 18432, 18432, 4608, 9216, 9216, 1024, 40, 40]
    totals = cost_totals(shapes)
    assert totals["forward_macs"] == 578_560 and totals["params"] == 5994
    # forward, weight gradients, input gradients but not into the images
    assert totals["training_macs"] == 3 * 578_560 - 115_200
    assert totals["act_bytes"] == 63_312


def test_conv_with_stride_pad_and_rectangular_filters():
    defs = [{"type": "input", "out_sx": 11, "out_sy": 9, "out_depth": 3},
            {"type": "conv", "sx": 3, "sy": 5, "filters": 4, "stride": 2, "pad": 1},
            {"type": "regression", "num_neurons": 2}]
    # out_sx = (11 + 2 - 3) // 2 + 1 = 6, out_sy = (9 + 2 - 5) // 2 + 1 = 4
    # 6 * 4 positions x 4 filters x (3 * 5 * 3) weights each = 4,320
    # fc: 6 * 4 * 4 = 96 inputs x 2 neurons = 192
    assert costs(defs) == [("input", 0, 4 * 11 * 9 * 3), ("conv", 4320, 4 * 96),
                           ("fc", 192, 8), ("regression", 0, 8)]


def test_macs_are_the_products_the_layer_computes():
    """Counted another way: with every weight 1 and every input 1 and no padding, each
    output of a conv/fc is its number of products; summed over the outputs, the macs."""
    defs = [{"type": "input", "out_sx": 7, "out_sy": 6, "out_depth": 2},
            {"type": "conv", "sx": 2, "sy": 3, "filters": 3, "stride": 2},
            {"type": "fc", "num_neurons": 5},
            {"type": "softmax", "num_classes": 2}]
    net = engine.Net(defs, dtype=np.float64, seed=0)
    for layer in net.layers:
        if layer.layer_type in ("conv", "fc"):
            layer.weights[...] = 1
            layer.biases[...] = 0
    net.forward(np.ones((1, 6, 7, 2)))
    shapes = engine.infer_shapes(defs)
    assert [s["type"] for s in shapes] == ["input", "conv", "fc", "fc", "softmax"]
    # conv: 3x2 positions x 3 filters, each output the sum of 3*2*2 ones
    assert net.layers[1].out_act.sum() == shapes[1]["macs"] == (3 * 2 * 3) * (3 * 2 * 2)
    # fc: each neuron multiplies every input of its batch item once
    for i in (2, 3):
        n_inputs = net.layers[i - 1].out_act[0].size
        assert shapes[i]["macs"] == n_inputs * net.layers[i].num_neurons
    assert (shapes[2]["macs"], shapes[3]["macs"]) == (18 * 5, 5 * 2)


@pytest.mark.parametrize("layer", [
    {"type": "pool", "sx": 2}, {"type": "relu"}, {"type": "leaky_relu"}, {"type": "sigmoid"},
    {"type": "tanh"}, {"type": "maxout"}, {"type": "dropout"}, {"type": "lrn"},
    {"type": "batchnorm"}])
def test_layers_without_products_cost_nothing_but_their_output(layer):
    defs = [{"type": "input", "out_sx": 4, "out_sy": 4, "out_depth": 6}, layer,
            {"type": "svm", "num_classes": 3}]
    shapes = engine.infer_shapes(defs)
    s = shapes[1]
    assert s["type"] == layer["type"] and s["macs"] == 0
    assert s["act_bytes"] == 4 * s["out_sx"] * s["out_sy"] * s["out_depth"]
    assert shapes[0]["macs"] == 0 and shapes[-1]["macs"] == 0  # input, svm
    fc = shapes[2]  # the fc before the svm: its inputs are this layer's outputs
    assert fc["type"] == "fc" and fc["macs"] == s["out_sx"] * s["out_sy"] * s["out_depth"] * 3


def test_check_rows_sum_their_expanded_layers():
    defs = preset("convnetjs-demo").layer_defs
    rows, error = check(defs)
    assert error is None
    assert [r["macs"] for r in rows] == [0, 115_200, 0, 460_800, 0, 2_560]
    # conv + relu: both outputs are kept for the backward pass
    assert rows[1]["act_bytes"] == 2 * 4 * 24 * 24 * 8 and rows[5]["act_bytes"] == 2 * 40
    # rows stop where the stack stops being valid; the others keep their costs
    rows, error = check(defs[:2] + [{"type": "pool", "sx": 99}] + defs[3:])
    assert error is not None and rows[1]["macs"] == 115_200 and rows[2] is None
