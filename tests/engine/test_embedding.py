"""The embedding map: activations, PCA, t-SNE (its pieces and its result on the demo net)."""
import numpy as np
import pytest

import engine
from engine import DataError, OptionError
from engine.core.errors import Cancelled
from engine.data import RESOURCES, load_mnist, network_input
from engine.runs.snapshots import load_snapshot
from engine.understand import embedding


@pytest.fixture(scope="module")
def demo():
    net, _ = load_snapshot(RESOURCES / "snapshots" / "convnetjs-demo-trained.json")
    test = load_mnist().test
    return net, network_input(test.images[:2000], net.input_shape), test.labels[:2000]


def clusters(n_per=40, k=4, dims=10, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((k, dims)) * 6
    f = np.concatenate([c + rng.standard_normal((n_per, dims)) for c in centres])
    return f, np.repeat(np.arange(k), n_per)


def test_activations_of_a_layer_for_every_image(demo):
    net, x, _ = demo
    assert embedding.last_hidden_layer(net) == 6  # the pool the fc of the scores reads
    seen = []
    f = embedding.activations(net, x[:300], batch_size=128, progress=seen.append)
    assert f.shape == (300, 4 * 4 * 16) and f.dtype == np.float32
    np.testing.assert_allclose(f[:5], net.trace(x[:5]).acts[6].reshape(5, -1), rtol=1e-5, atol=1e-6)
    assert seen == pytest.approx([128 / 300, 256 / 300, 1.0])
    assert embedding.activations(net, x[:3], layer=0).shape == (3, 24 * 24)
    with pytest.raises(OptionError, match="layer must be the index"):
        embedding.activations(net, x[:3], layer=12)
    with pytest.raises(Cancelled):
        embedding.activations(net, x[:300], cancelled=lambda: True)


def test_pca_projects_on_the_axes_of_largest_variance():
    rng = np.random.default_rng(1)
    # a cloud stretched along (1, 1, 0) (std 5) then (0, 0, 1) (std 2), thin along the rest
    t = rng.standard_normal((500, 3)) * [5, 2, 0.1]
    axes = np.array([[1, 1, 0], [0, 0, 1], [1, -1, 0]]) / np.sqrt([2, 1, 2])[:, None]
    f = t @ axes + 7
    p = embedding.pca(f, 2)
    assert p.shape == (500, 2)
    cov = np.cov(f.T)
    vals, vecs = np.linalg.eigh(cov)
    want = (f - f.mean(axis=0)) @ vecs[:, ::-1][:, :2]
    for i in range(2):  # the same axes, up to sign
        assert abs(np.corrcoef(p[:, i], want[:, i])[0, 1]) == pytest.approx(1, abs=1e-9)
    assert p[:, 0].std() == pytest.approx(5, rel=0.1) and p[:, 1].std() == pytest.approx(2, rel=0.1)
    np.testing.assert_allclose(embedding.pca(f[::-1], 2)[::-1], p, atol=1e-9)  # signs fixed by the data


def test_each_point_keeps_its_perplexity_and_the_affinities_are_symmetric():
    f, _ = clusters(30, 3)
    d = np.random.default_rng(2).uniform(0, 40, (7, 20))
    p = embedding.conditional_affinities(d, 5.0)
    np.testing.assert_allclose(p.sum(axis=1), 1)
    entropy = -(p * np.log(np.maximum(p, 1e-300))).sum(axis=1)
    np.testing.assert_allclose(np.exp(entropy), 5.0, rtol=1e-6)
    rows, cols, v = embedding.neighbour_affinities(f, 10.0)
    dense = np.zeros((90, 90))
    dense[rows, cols] = v
    np.testing.assert_allclose(dense, dense.T)
    assert dense.sum() == pytest.approx(1) and np.all(np.diff(rows) >= 0) and (np.diag(dense) == 0).all()


def test_forces_are_the_exact_sums_over_all_pairs():
    rng = np.random.default_rng(3)
    y = rng.standard_normal((300, 2)) * 10
    p = np.abs(rng.standard_normal((300, 300))).astype(np.float32)
    p = (p + p.T) / 2
    np.fill_diagonal(p, 0)
    blocks = [(a, min(300, a + 128)) for a in range(0, 300, 128)]
    att, rep, z = embedding.forces(y, p, blocks, threads=2)
    diff = y[:, None, :] - y[None, :, :]
    w = 1 / (1 + (diff ** 2).sum(axis=2))
    np.fill_diagonal(w, 0)
    np.testing.assert_allclose(z, w.sum(), rtol=1e-5)
    # float32 sums of products: good to about 1e-4 of the largest force (Barnes-Hut's
    # approximation, for comparison, is off by about 1e-2)
    want_att = ((p * w)[:, :, None] * diff).sum(axis=1)
    want_rep = ((w * w)[:, :, None] * diff).sum(axis=1)
    np.testing.assert_allclose(att, want_att, rtol=0, atol=2e-4 * np.abs(want_att).max())
    np.testing.assert_allclose(rep, want_rep, rtol=0, atol=2e-4 * np.abs(want_rep).max())


def test_tsne_separates_clusters_and_reports_as_it_goes():
    f, labels = clusters(40, 4, dims=30)
    seen, partials = [], []
    y = embedding.tsne(f, perplexity=10, iterations=300, early_iterations=100, pca_dims=5,
                       progress=seen.append, partial=partials.append, partial_every=100)
    assert y.shape == (160, 2) and np.isfinite(y).all()
    assert embedding.knn_agreement(y, labels) == 1.0
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) > 10
    assert len(partials) == 3 and partials[-1].shape == (160, 2)
    np.testing.assert_allclose(partials[-1], y)
    y2 = embedding.tsne(f, perplexity=10, iterations=300, early_iterations=100, pca_dims=5)
    np.testing.assert_allclose(y2, y, rtol=1e-6, atol=1e-6 * np.abs(y).max())  # same seed, same map
    calls = []
    with pytest.raises(Cancelled):
        embedding.tsne(f, iterations=300, cancelled=lambda: calls.append(1) or len(calls) > 5)


def test_bad_features_and_options():
    with pytest.raises(DataError, match="at least 4 points"):
        embedding.tsne(np.zeros((3, 5)))
    with pytest.raises(DataError, match="NaN or infinite"):
        embedding.tsne(np.full((10, 3), np.nan))
    with pytest.raises(DataError, match="expected an array"):
        embedding.pca(np.zeros(10))
    with pytest.raises(DataError, match=f"at most {embedding.MAX_POINTS}"):
        embedding.pca(np.zeros((embedding.MAX_POINTS + 1, 2)))
    with pytest.raises(OptionError, match="perplexity must be"):
        embedding.tsne(np.zeros((10, 3)), perplexity=0)
    net = engine.Net([{"type": "input", "out_sx": 4, "out_sy": 4, "out_depth": 1},
                      {"type": "softmax", "num_classes": 2}])
    with pytest.raises(OptionError, match="method must be one of"):
        embedding.embed(net, np.zeros((5, 4, 4, 1)), method="umap")
    with pytest.raises(DataError, match="labels: expected 3"):
        embedding.knn_agreement(np.zeros((3, 2)), [0, 1])


def test_knn_agreement_counts_majorities_of_the_nearest_points():
    points = np.array([[0, 0], [0, 1], [0, 2], [10, 0], [10, 1], [10, 2.5], [0, 3.5]], float)
    labels = np.array([0, 0, 0, 1, 1, 1, 1])
    # with k=2 the last point's neighbours are (0,2) and (0,1): class 0, wrong; all others right
    assert embedding.knn_agreement(points, labels, k=2) == pytest.approx(6 / 7)


def test_tsne_map_of_the_last_hidden_layer_keeps_the_classes_apart(demo):
    """The brief's check on a 600-image share, to keep the default run quick (2,000: slow test)."""
    net, x, labels = demo
    points, feats = embedding.embed(net, x[:600], method="tsne")
    assert points.shape == (600, 2) and feats.shape == (600, 256)
    assert embedding.knn_agreement(points, labels[:600], k=5) >= 0.9


@pytest.mark.slow
def test_tsne_map_of_2000_test_images_keeps_the_classes_apart(demo):
    net, x, labels = demo
    points, feats = embedding.embed(net, x, method="tsne")
    tsne_score = embedding.knn_agreement(points, labels, k=5)
    pca_score = embedding.knn_agreement(embedding.pca(feats), labels, k=5)
    print(f"5-NN agreement, 2,000 test images: t-SNE {tsne_score:.3f}, PCA {pca_score:.3f}")
    assert tsne_score >= 0.9
    assert pca_score < tsne_score
