"""Image datasets as the engine keeps them, and turned into float batches.

Reading every file format is ``engine.datasets``'s job; here are the containers
(``ImageSet``, ``Dataset``), the bundled MNIST, splits, crops and augmentation.
Images stay uint8 ``(N, H, W, C)`` in memory; a batch becomes float32 ``p/255 - 0.5``
(as in the ConvNetJS demo) only when it is drawn. Augmentation (random crop, shift,
horizontal flip) works on the uint8 pixels; evaluation uses a centre crop or the
average over several crops.
"""
import pathlib
from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from engine.core.errors import DataError

RESOURCES = pathlib.Path(__file__).resolve().parents[2] / "resources"
MNIST_DIR = RESOURCES / "datasets" / "mnist"
MNIST_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
               "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}




@dataclass
class ImageSet:
    """Images ``(N, H, W, C)`` uint8 and class labels ``(N,)``."""
    images: np.ndarray
    labels: np.ndarray
    name: str = ""

    def __post_init__(self):
        if self.images.ndim == 3:
            self.images = self.images[..., None]
        if self.images.ndim != 4:
            raise DataError(f"{self.name or 'images'}: expected (N, H, W[, C]) images, "
                            f"got shape {self.images.shape}")
        if len(self.images) != len(self.labels):
            raise DataError(f"{self.name or 'dataset'}: {len(self.images)} images but "
                            f"{len(self.labels)} labels")
        self.labels = np.asarray(self.labels).astype(np.int64)

    def __len__(self):
        return len(self.labels)

    @property
    def shape(self):
        return self.images.shape[1:]

    @property
    def num_classes(self):
        return int(self.labels.max()) + 1 if len(self.labels) else 0

    def subset(self, index, name=None):
        return ImageSet(self.images[index], self.labels[index], name or self.name)




@dataclass
class Dataset:
    """A training and a test ImageSet, with what the classes are called and where they came from.

    Attributes
    ----------
    train, test : ImageSet
        uint8 images ``(N, H, W, C)`` (C is 1 or 3) and labels in ``range(num_classes)``.
    name : str
        What to call the dataset in messages ("MNIST", a file or folder name).
    num_classes : int
    class_names : list of str
        One per class (default: "0", "1", ...).
    source : str or None
        Where it was read from (a path, or "bundled").
    format : str or None
        "idx", "npz", "csv" or "folder".
    split : str
        "given" when the source had a training and a test part, else how the tool split it.
    notes : list of str
        What the loader did that the user should know (images skipped or resized, pixels
        rescaled, ...): the CLI prints them, the app shows them.
    """
    train: ImageSet
    test: ImageSet
    name: str = "MNIST"
    num_classes: int = 10
    class_names: list = None
    source: str = None
    format: str = None
    split: str = "given"
    notes: list = field(default_factory=list)

    def __post_init__(self):
        from engine.core.limits import MAX_CLASSES
        if not 0 <= self.num_classes <= MAX_CLASSES:
            raise DataError(f"{self.name}: {self.num_classes:,} classes; the limit is {MAX_CLASSES:,}")
        if self.class_names is None:
            self.class_names = [str(i) for i in range(self.num_classes)]
        self.class_names = [str(n) for n in self.class_names]
        if len(self.class_names) != self.num_classes:
            raise DataError(f"{self.name}: {self.num_classes} classes but "
                            f"{len(self.class_names)} class names")

    @property
    def image_shape(self):
        """``(H, W, C)`` of every image."""
        return tuple(int(d) for d in self.train.images.shape[1:])




def split_validation(images, n_val, seed=0):
    """Hold out ``n_val`` examples (a count, or a fraction below 1) as a validation set."""
    n = len(images)
    if 0 < n_val < 1:
        n_val = int(round(n * n_val))
    n_val = int(n_val)
    if not 0 <= n_val < n:
        raise DataError(f"validation split of {n_val} leaves no training examples out of {n}")
    order = np.random.default_rng(seed).permutation(n)
    return (images.subset(np.sort(order[n_val:]), "train"),
            images.subset(np.sort(order[:n_val]), "validation"))


def to_float(pixels):
    """Stored pixels to the network's floats: the engine's one input scaling.

    8-bit pixels ``p`` become ``p/255 - 0.5`` (as in the ConvNetJS demo); float
    images already in [0, 1] (a drawing, a decoded picture) become ``p - 0.5``.
    Exports use the same scaling.
    """
    pixels = np.asarray(pixels)
    out = pixels.astype(np.float32)
    if pixels.dtype == np.uint8:
        out *= np.float32(1 / 255)
    out -= np.float32(0.5)
    return out


def network_input(images, input_shape):
    """Images as the network takes them: centre-cropped to ``input_shape`` and scaled.

    ``images``: uint8 ``(N, H, W, C)`` (or ``(N, H, W)``), or floats in [0, 1];
    ``input_shape``: the network's ``(sy, sx, depth)``. Returns float32 ``(N, sy, sx, depth)``.
    """
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    return to_float(input_pixels(images, input_shape))


@dataclass
class Augment:
    """Random crop to ``crop`` px, random shift by up to ``shift`` px, optional h-flip.

    A shift pads the image with background before the crop, so the digit moves
    but is never cut; ``crop=None`` keeps the image size.
    """
    crop: int = None
    shift: int = 0
    flip: bool = False

    def __call__(self, pixels, rng):
        n, h, w, c = pixels.shape
        size = self.crop or h
        s = int(self.shift)
        if s:
            pixels = np.pad(pixels, ((0, 0), (s, s), (s, s), (0, 0)))
        span = pixels.shape[1] - size
        if span < 0:
            raise DataError(f"cannot crop {size}x{size} from {h}x{w} images")
        if span:
            oy = rng.integers(0, span + 1, n)
            ox = rng.integers(0, span + 1, n)
            # Pick one window per image from a view of all of them: one gather of whole
            # windows, three times faster than indexing every pixel.
            windows = sliding_window_view(pixels, (size, size), axis=(1, 2))
            pixels = windows[np.arange(n), oy, ox].transpose(0, 2, 3, 1)
        if self.flip:
            flip = rng.random(n) < 0.5
            pixels = pixels.copy() if span == 0 else pixels
            pixels[flip] = pixels[flip, :, ::-1]
        return pixels


def center_crop(pixels, size):
    """The centre ``size x size`` of every image."""
    h, w = pixels.shape[1:3]
    if size > h or size > w:
        raise DataError(f"cannot crop {size}x{size} from {h}x{w} images")
    oy, ox = (h - size) // 2, (w - size) // 2
    return pixels[:, oy:oy + size, ox:ox + size]


def crops(pixels, size, count):
    """``count`` crops per image for test-time averaging: the centre, then corners and edges."""
    h = pixels.shape[1]
    span = h - size
    if span == 0 or count <= 1:
        return [center_crop(pixels, size)]
    c = span // 2
    offsets = [(c, c), (0, 0), (0, span), (span, 0), (span, span),
               (0, c), (c, 0), (c, span), (span, c)]
    return [pixels[:, oy:oy + size, ox:ox + size] for oy, ox in offsets[:count]]


def input_pixels(pixels, net_shape):
    """Centre-crop images to the network's input size (a check that they can be)."""
    sy, sx, depth = net_shape
    if pixels.shape[3] != depth:
        raise DataError(f"the network takes {depth}-channel input but the images have "
                        f"{pixels.shape[3]} channels")
    if pixels.shape[1] == sy and pixels.shape[2] == sx:
        return pixels
    if sy != sx:
        raise DataError(f"the network's input {sx}x{sy} does not fit "
                        f"{pixels.shape[2]}x{pixels.shape[1]} images")
    return center_crop(pixels, sy)


def predict(net, images, batch_size=256, crop_count=1):
    """Class probabilities (or scores) for every image, centre crop or crop average."""
    sy, sx, depth = net.input_shape
    outs = []
    for start in range(0, len(images), batch_size):
        pixels = images[start:start + batch_size]
        if pixels.shape[1:3] == (sy, sx):
            views = [pixels]
        else:
            input_pixels(pixels[:1], net.input_shape)  # clear error if it cannot fit
            views = crops(pixels, sy, crop_count)
        acc = None
        for v in views:
            p = net.infer(to_float(v)).reshape(len(v), -1)
            acc = p.copy() if acc is None else acc + p
        outs.append(acc / len(views))
    return np.concatenate(outs)


def accuracy(net, image_set, crop_count=1, batch_size=256):
    """Fraction of ``image_set`` classified right."""
    if len(image_set) == 0:
        return float("nan")
    p = predict(net, image_set.images, batch_size, crop_count)
    return float(np.mean(p.argmax(axis=1) == image_set.labels))


def confusion_matrix(true, pred, num_classes):
    m = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(m, (true, pred), 1)
    return m
