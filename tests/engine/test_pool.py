"""Max pooling routes each window's gradient to the cell ConvNetJS picks: on ties, the
first in its loop order (columns outer, rows inner, strictly greater to replace)."""
import numpy as np
import pytest

import engine


def convnetjs_pool(x, sx, stride, pad):
    """ConvNetJS's PoolLayer.forward/backward for one volume ``(H, W, D)``, as written there."""
    h, w, d = x.shape
    oh = (h + 2 * pad - sx) // stride + 1
    ow = (w + 2 * pad - sx) // stride + 1
    out = np.zeros((oh, ow, d))
    win = np.zeros((oh, ow, d, 2), dtype=int)
    for c in range(d):
        for ox in range(ow):
            for oy in range(oh):
                a, wx, wy = -np.inf, -1, -1
                for fx in range(sx):
                    for fy in range(sx):
                        y, xx = oy * stride - pad + fy, ox * stride - pad + fx
                        if 0 <= y < h and 0 <= xx < w and x[y, xx, c] > a:
                            a, wx, wy = x[y, xx, c], xx, y
                out[oy, ox, c] = a
                win[oy, ox, c] = (wy, wx)
    return out, win


@pytest.mark.parametrize("sx,stride,pad,size", [(2, 2, 0, 6), (3, 3, 0, 6), (3, 3, 0, 7),
                                                (3, 2, 1, 5), (2, 1, 0, 4), (1, 1, 0, 4)])
def test_ties_go_to_the_cell_convnetjs_picks(sx, stride, pad, size):
    rng = np.random.default_rng(0)
    # Few distinct values, so most windows hold ties (as after a relu: many exact zeros).
    x = rng.integers(0, 3, (2, size, size, 3)).astype(np.float64)
    net = engine.Net([{"type": "input", "out_sx": size, "out_sy": size, "out_depth": 3},
                      {"type": "pool", "sx": sx, "stride": stride, "pad": pad},
                      {"type": "regression", "num_neurons": 1}], dtype=np.float64, threads=1)
    pool = net.layers[1]
    out, cache = pool.forward(x, training=True)
    dout = rng.standard_normal(out.shape)
    dx = pool.backward(cache, dout)
    for n in range(len(x)):
        ref_out, win = convnetjs_pool(x[n], sx, stride, pad)
        np.testing.assert_array_equal(out[n], ref_out)
        ref_dx = np.zeros(x[n].shape)
        for oy, ox, c in np.ndindex(*ref_out.shape):
            wy, wx = win[oy, ox, c]
            ref_dx[wy, wx, c] += dout[n, oy, ox, c]
        np.testing.assert_allclose(dx[n], ref_dx, rtol=0, atol=1e-12)
