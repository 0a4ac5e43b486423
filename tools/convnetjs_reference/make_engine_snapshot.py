"""Write a snapshot with the engine for ConvNetJS to load (see make_fixtures.js).

    python tools/convnetjs_reference/make_engine_snapshot.py
    node tools/convnetjs_reference/make_fixtures.js tests/engine/fixtures/engine_written.json \
        > tests/engine/fixtures/engine_written_convnetjs_outputs.json
"""
import json
import pathlib

import numpy as np

import engine

DEFS = [{"type": "input", "out_sx": 8, "out_sy": 8, "out_depth": 2},
        {"type": "conv", "sx": 3, "filters": 4, "pad": 1, "activation": "relu"},
        {"type": "pool", "sx": 2, "stride": 2},
        {"type": "lrn", "k": 1, "n": 3, "alpha": 0.1, "beta": 0.75},
        {"type": "fc", "num_neurons": 6, "activation": "maxout", "group_size": 3},
        {"type": "fc", "num_neurons": 5, "activation": "tanh"},
        {"type": "softmax", "num_classes": 4}]

if __name__ == "__main__":
    net = engine.Net(DEFS, dtype=np.float64, seed=5)
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3,) + net.input_shape)
    trainer = engine.Trainer(net, method="adam", learning_rate=0.01, batch_size=3)
    for _ in range(3):
        trainer.train(x, np.array([0, 1, 2]))
    out = pathlib.Path(__file__).parents[2] / "tests" / "engine" / "fixtures" / "engine_written.json"
    out.write_text(json.dumps({"snapshot": net.to_json(), "inputs": x.reshape(3, -1).tolist()}))
    print("wrote", out)
