"""Does a network fit a dataset (input size, channels, number of classes), and the smallest
change to the layer definitions that makes it fit (the CLI's ``--fit-input``, the app's
"adapt the network" offer)."""
import copy

from engine.core.errors import SpecError
from engine.core.spec import infer_shapes

CLASS_LOSSES = ("softmax", "svm")


def size_fits(input_size, image_size):
    """The network's ``(sy, sx)`` takes images of ``(H, W)``: the same size, or a square crop of them."""
    (sy, sx), (h, w) = input_size, image_size
    return (sy, sx) == (h, w) or (sy == sx and sy <= min(h, w))


def _channels(c):
    return {1: "1 channel (grey)", 3: "3 channels (RGB)"}.get(c, f"{c} channels")


def fit_problems(input_shape, num_classes, dataset):
    """What does not fit, one phrase each (empty when everything does).

    ``input_shape``: the network's ``(sy, sx, depth)``; ``num_classes``: its class count
    (None for a regression network, whose outputs are not classes).
    """
    sy, sx, depth = (int(v) for v in input_shape)
    h, w, c = dataset.image_shape
    out = []
    if depth != c:
        out.append(f"the input takes {_channels(depth)} but the images have {_channels(c)}")
    if not size_fits((sy, sx), (h, w)):
        how = "larger than" if sy > h or sx > w else "a different shape from"
        out.append(f"the input is {sx}x{sy}, {how} the {w}x{h} images")
    if num_classes is not None and int(num_classes) != dataset.num_classes:
        out.append(f"the network outputs {num_classes} classes but the data has {dataset.num_classes}")
    return out


def _input_and_loss(layer_defs):
    rows = infer_shapes(layer_defs)  # a clear SpecError for a broken stack, before anything else
    first, last = rows[0], rows[-1]
    shape = (first["out_sy"], first["out_sx"], first["out_depth"])
    classes = last["out_depth"] if last["type"] in CLASS_LOSSES else None
    return shape, classes


def check_fit(layer_defs, dataset):
    """``fit_problems`` for ConvNetJS ``layer_defs``."""
    shape, classes = _input_and_loss(layer_defs)
    return fit_problems(shape, classes, dataset)


def fit_layer_defs(layer_defs, dataset):
    """``(new_layer_defs, changes)``: the input layer and the loss layer's class count adapted to
    ``dataset``; ``changes`` says what changed, one phrase each (empty: it already fitted).

    The input keeps its size when the images can be cropped to it, else takes the images'
    size; its depth becomes the images' channels; softmax/svm get the data's class count.
    Raises SpecError when the adapted stack is not valid (say, a pool window larger than
    the new, smaller input), with the layer at fault.
    """
    (sy, sx, depth), classes = _input_and_loss(layer_defs)
    h, w, c = dataset.image_shape
    defs = copy.deepcopy(list(layer_defs))
    changes = []
    new_sy, new_sx = (sy, sx) if size_fits((sy, sx), (h, w)) else (h, w)
    if (new_sy, new_sx, c) != (sy, sx, depth):
        defs[0].update(out_sx=new_sx, out_sy=new_sy, out_depth=c)
        changes.append(f"input {sx}x{sy}x{depth} -> {new_sx}x{new_sy}x{c}")
    if classes is not None and classes != dataset.num_classes:
        defs[-1]["num_classes"] = dataset.num_classes
        changes.append(f"{defs[-1]['type']} classes {classes} -> {dataset.num_classes}")
    if changes:
        try:
            infer_shapes(defs)
        except SpecError as e:
            raise SpecError(f"adapting the network to the data ({', '.join(changes)}) makes it "
                            f"invalid: {e}", e.layer_index) from None
    return defs, changes
