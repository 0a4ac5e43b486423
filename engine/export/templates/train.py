"""Train the exported network with PyTorch: the workbench's experiment, on any number of devices.

    python train.py --out trained.json                          # one process: the CPU, or one GPU
    torchrun --nproc_per_node=4 train.py --out trained.json     # DistributedDataParallel

The settings are the experiment in experiment.json beside this file (trainer, learning
rate and schedule, momentum, L1/L2 decay, batch size, augmentation, validation split,
epochs, seed); the options override them. Training starts from the exported weights
(weights.pt; --fresh starts from ConvNetJS's initial weights). At the end rank 0 writes
the weights as a ConvNetJS snapshot (--out) that the workbench and
`python -m engine eval` open.

What is the same as in the engine (convnet-workbench's engine/core/trainer.py and engine/data/):
- The update rules are ConvNetJS's, implemented below (ConvNetJSTrainer), not taken from
  torch.optim, whose rules differ: torch's Adagrad and RMSprop add eps outside the square
  root (ConvNetJS: sqrt(sum + eps)); torch's Adadelta multiplies by a learning rate
  (ConvNetJS's has none); torch's SGD momentum and Nesterov keep the velocity without the
  learning rate (the same steps at a constant rate, different ones under a schedule); and
  torch's weight_decay is neither divided by the batch size nor has L1 or per-layer
  multipliers. Here every method takes g = mean gradient + (l2_decay * l2_mul * w +
  l1_decay * l1_mul * sign(w)) / batch size (sign(0) = -1, as ConvNetJS), and applies
  sgd, momentum, nesterov, adagrad, windowgrad, adadelta (eps inside both square roots)
  or adam exactly as the engine does.
- The batch size is the experiment's, for the whole step: with several processes each
  takes its share of every batch, and the gradient is the mean over the whole batch, so a
  step is the engine's step whatever the number of processes (--batch-size changes it).
- Batches: a new random order of the training images each epoch, consecutive batches of
  it, the images left over at the end of an epoch skipped; the learning-rate schedule
  is set before every batch from the examples seen, as the engine's Run does.
- Augmentation: random crop (default: to the network's input size), random shift with
  background padding, random horizontal flip, on the 8-bit pixels; then p / 255 - 0.5.
- The validation split: the same images as the engine's (a permutation seeded with 0).
- Evaluation: the centre crop.

What differs: the random numbers (batch order, crops, dropout, fresh weights) are
PyTorch's and NumPy's, not the engine's; float32 sums run in another order. With several
processes, batchnorm computes its statistics over each process's share of the batch (on
GPUs it is converted to SyncBatchNorm, which uses the whole batch), and the images left
over when a batch does not divide evenly are skipped on the processes with the smaller
share.

Needs only torch and numpy.
"""
import argparse
import gzip
import json
import math
import os
import pathlib
import sys
import tempfile
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.utils.data import DistributedSampler

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import model as exported  # noqa: E402  (model.py beside this file)

IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
IDX_TYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
             0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


# -- data (as engine/data/) -------------------------------------------------------------
def read_idx(path):
    """An IDX file (gzip or raw) as an array."""
    raw = pathlib.Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES:
        raise SystemExit(f"error: {path}: not an IDX file")
    ndim = raw[3]
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", ndim, 4))
    dtype = IDX_TYPES[raw[2]]
    return np.frombuffer(raw, dtype, int(np.prod(dims)), 4 + 4 * ndim).reshape(dims).astype(
        dtype.newbyteorder("="))


def find_idx(folder, name):
    for candidate in (folder / (name + ".gz"), folder / name):
        if candidate.is_file():
            return candidate
    raise SystemExit(f"error: {folder} has no {name}[.gz] (expected the four MNIST IDX files)")


def load_split(folder, split):
    images_name, labels_name = IDX_FILES[split]
    images = read_idx(find_idx(folder, images_name))
    labels = read_idx(find_idx(folder, labels_name)).astype(np.int64)
    if images.ndim == 3:
        images = images[..., None]
    if images.dtype != np.uint8 or images.ndim != 4 or len(images) != len(labels):
        raise SystemExit(f"error: {folder}: expected uint8 images (N, H, W[, C]) and one label each")
    return images, labels


def data_folder(args, experiment):
    """--data, else data/ beside this file, else the experiment's data path."""
    candidates = [args.data] if args.data else [HERE / "data", experiment.get("data")]
    for c in candidates:
        if c and pathlib.Path(c).is_dir():
            return pathlib.Path(c)
    raise SystemExit("error: no dataset: pass --data FOLDER (a folder with the four MNIST IDX files)")


def split_validation(n, n_val):
    """Indices ``(train, validation)``: the engine's split (a permutation seeded with 0)."""
    if 0 < n_val < 1:
        n_val = int(round(n * n_val))
    n_val = int(n_val)
    if not 0 <= n_val < n:
        raise SystemExit(f"error: a validation split of {n_val} leaves no training images out of {n}")
    order = np.random.default_rng(0).permutation(n)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def augment(pixels, crop, shift, flip, rng):
    """Random crop to ``crop`` px after a random shift of up to ``shift`` px, optional h-flip."""
    n, h, w, c = pixels.shape
    size = crop or h
    if shift:
        pixels = np.pad(pixels, ((0, 0), (shift, shift), (shift, shift), (0, 0)))
    span = pixels.shape[1] - size
    if span < 0:
        raise SystemExit(f"error: cannot crop {size}x{size} from {h}x{w} images")
    if span:
        oy = rng.integers(0, span + 1, n)
        ox = rng.integers(0, span + 1, n)
        windows = np.lib.stride_tricks.sliding_window_view(pixels, (size, size), axis=(1, 2))
        pixels = windows[np.arange(n), oy, ox].transpose(0, 2, 3, 1)
    if flip:
        flipped = rng.random(n) < 0.5
        pixels = pixels.copy()
        pixels[flipped] = pixels[flipped, :, ::-1]
    return pixels


def center_crop(pixels, height, width):
    h, w = pixels.shape[1:3]
    if height > h or width > w:
        raise SystemExit(f"error: the network takes {width}x{height} images, the data has {w}x{h}")
    oy, ox = (h - height) // 2, (w - width) // 2
    return pixels[:, oy:oy + height, ox:ox + width]


def to_tensor(pixels, device):
    """8-bit pixels (N, H, W, C) to the network's input: float32 [N, C, H, W], p / 255 - 0.5."""
    x = torch.from_numpy(np.ascontiguousarray(pixels)).to(device)
    return (x.permute(0, 3, 1, 2).float() * (1.0 / 255.0) - 0.5).contiguous()


# -- the learning-rate schedule (as engine/core/schedules.py) -----------------------------------
def learning_rate(schedule, base, total, seen):
    if not schedule or schedule["kind"] == "constant":
        return base
    b = schedule["base"] if schedule.get("base") is not None else base
    kind = schedule["kind"]
    if kind == "step":
        return b * schedule["factor"] ** (seen // schedule["every"])
    if kind == "exponential":
        return b * schedule["factor"] ** (seen / schedule["every"])
    if kind == "cosine":
        t = min(seen / (schedule.get("total") or total), 1.0)
        return schedule["minimum"] + (b - schedule["minimum"]) * 0.5 * (1 + math.cos(math.pi * t))
    raise SystemExit(f"error: unknown schedule {kind!r}")


# -- ConvNetJS's trainer (as engine/core/trainer.py) -------------------------------------------
class ConvNetJSTrainer(torch.optim.Optimizer):
    """ConvNetJS's update rules with its L1/L2 decay (see the module's docstring).

    ``step(batch_size)`` after the backward pass of the mean loss over ``batch_size`` examples.
    """

    METHODS = ("sgd", "nesterov", "adagrad", "windowgrad", "adadelta", "adam")

    def __init__(self, named_params, multipliers, method="sgd", learning_rate=0.01, momentum=0.9,
                 l1_decay=0.0, l2_decay=0.0, ro=0.95, eps=1e-8, beta1=0.9, beta2=0.999, **unused):
        if method not in self.METHODS:
            raise SystemExit(f"error: unknown trainer method {method!r} (known: {', '.join(self.METHODS)})")
        groups = [{"params": [p], "l1_mul": multipliers.get(n, (0.0, 0.0))[0],
                   "l2_mul": multipliers.get(n, (0.0, 0.0))[1]} for n, p in named_params]
        super().__init__(groups, {"lr": learning_rate})
        self.method, self.momentum = method, momentum
        self.l1_decay, self.l2_decay = l1_decay, l2_decay
        self.ro, self.eps, self.beta1, self.beta2 = ro, eps, beta1, beta2
        self.updates = 0

    def set_learning_rate(self, lr):
        for group in self.param_groups:
            group["lr"] = lr

    @torch.no_grad()
    def step(self, batch_size):
        """One update from the gradients of the mean loss over ``batch_size`` examples."""
        self.updates += 1
        for group in self.param_groups:
            p = group["params"][0]
            if p.grad is None:
                continue
            g = p.grad
            l1 = self.l1_decay * group["l1_mul"]
            l2 = self.l2_decay * group["l2_mul"]
            if l2:
                g = g + p * (l2 / batch_size)
            if l1:
                sign = 2 * (p > 0).to(p.dtype) - 1  # ConvNetJS's: -1 at 0
                g = g + sign * (l1 / batch_size)
            self._update(p, g, self.state[p], group["lr"])

    def _update(self, p, g, state, lr):
        if not state:
            state["gsum"] = torch.zeros_like(p)
            state["xsum"] = torch.zeros_like(p)
        gs, xs = state["gsum"], state["xsum"]
        method, mom, ro, eps = self.method, self.momentum, self.ro, self.eps
        if method == "adam":
            b1, b2, t = self.beta1, self.beta2, self.updates
            gs.mul_(b1).add_(g, alpha=1 - b1)
            xs.mul_(b2).addcmul_(g, g, value=1 - b2)
            m_hat = gs / (1 - b1 ** t)
            v_hat = xs / (1 - b2 ** t)
            p.sub_(lr * m_hat / (v_hat.sqrt() + eps))
        elif method == "adagrad":
            gs.addcmul_(g, g)
            p.sub_(lr * g / (gs + eps).sqrt())
        elif method == "windowgrad":
            gs.mul_(ro).addcmul_(g, g, value=1 - ro)
            p.sub_(lr * g / (gs + eps).sqrt())
        elif method == "adadelta":
            gs.mul_(ro).addcmul_(g, g, value=1 - ro)
            dx = ((xs + eps) / (gs + eps)).sqrt() * g
            p.sub_(dx)
            xs.mul_(ro).addcmul_(dx, dx, value=1 - ro)
        elif method == "nesterov":
            dx = gs.clone()
            gs.mul_(mom).add_(g, alpha=lr)
            p.add_(mom * dx - (1.0 + mom) * gs)
        elif mom > 0:  # sgd with momentum
            gs.mul_(mom).sub_(g, alpha=lr)
            p.add_(gs)
        else:
            p.sub_(g, alpha=lr)


# -- losses (sums over the examples; as engine/core/layers/loss.py) ------------------------------
def loss_sum(scores, labels, loss):
    if loss == "softmax":
        return F.cross_entropy(scores, labels, reduction="sum")
    if loss == "svm":  # ConvNetJS's structured hinge: sum over wrong classes of max(0, x_i - x_y + 1)
        margins = scores - scores.gather(1, labels[:, None]) + 1
        margins = margins.scatter(1, labels[:, None], 0.0)
        return margins.clamp(min=0).sum()
    if loss == "regression":  # 0.5 * sum((x - y)^2); MNIST's targets: the label as a value
        if scores.shape[1] != 1:
            raise SystemExit(f"error: a regression net with {scores.shape[1]} outputs needs "
                             f"{scores.shape[1]} targets per image; the data has class labels")
        return 0.5 * ((scores[:, 0] - labels.to(scores.dtype)) ** 2).sum()
    raise SystemExit(f"error: unknown loss {loss!r}")


class Scores(torch.nn.Module):
    """The network's ``scores`` as the module that DistributedDataParallel wraps."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net.scores(x)


# -- distribution --------------------------------------------------------------------------
class World:
    """This process's place: rank, size, device, and collective sums (identity in one process)."""

    def __init__(self, force_cpu=False):
        self.distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
        self.rank = int(os.environ.get("RANK", "0"))
        self.size = int(os.environ.get("WORLD_SIZE", "1"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        cuda = torch.cuda.is_available() and not force_cpu
        if cuda:
            self.device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(self.device)
        else:
            self.device = torch.device("cpu")
        if self.distributed:  # torchrun sets MASTER_ADDR/PORT (or the rendezvous) for us
            dist.init_process_group("nccl" if cuda else "gloo")

    def sum(self, *values):
        """The sums of ``values`` (numbers, or one float64 tensor) over every process."""
        t = values[0].clone() if torch.is_tensor(values[0]) else \
            torch.tensor(values, dtype=torch.float64, device=self.device)
        if self.distributed:
            dist.all_reduce(t)
        return t.tolist()

    def broadcast_int(self, value):
        t = torch.tensor([value], dtype=torch.int64, device=self.device)
        if self.distributed:
            dist.broadcast(t, 0)
        return int(t.item())

    def log(self, text):
        if self.rank == 0:
            print(text, file=sys.stderr, flush=True)

    def close(self, finished=True):
        """Leave the process group; ``finished``: after every process met here (rank 0 may
        still be writing the snapshot: a peer that tore the group down before that made
        gloo abort rank 0, "terminate called without an active exception", 1 run in 6)."""
        if self.distributed:
            if finished:
                dist.barrier()
            dist.destroy_process_group()


def shares(batch, world):
    """How many examples of a batch each process takes."""
    return [batch // world + (1 if r < batch % world else 0) for r in range(world)]


def evaluate(net, images, labels, world, loss, batch=1000):
    """``(accuracy, mean loss)`` on ``images`` (centre crop), each process taking every size-th."""
    net.eval()
    mine = np.arange(world.rank, len(images), world.size)
    right = total = 0.0
    loss_total = 0.0
    c, h, w = exported.INPUT_SHAPE
    with torch.no_grad():
        for start in range(0, len(mine), batch):
            idx = mine[start:start + batch]
            x = to_tensor(center_crop(images[idx], h, w), world.device)
            y = torch.from_numpy(labels[idx]).to(world.device)
            scores = net.scores(x)
            loss_total += float(loss_sum(scores, y, loss))
            if loss != "regression":
                right += float((scores.argmax(1) == y).sum())
            total += len(idx)
    net.train()
    right, total, loss_total = world.sum(right, total, loss_total)
    accuracy = right / total if total and loss != "regression" else float("nan")
    return accuracy, loss_total / max(total, 1)


def output_file(path):
    """Where a save to ``path`` goes (a symlink's target); exits with one line when ``path`` is
    a device, a pipe or a folder, or its folder is missing: checked before training starts."""
    target = pathlib.Path(os.path.realpath(path))
    if target.exists() and not target.is_file():
        raise SystemExit(f"error: {path}: not a regular file; choose a file name")
    if not target.parent.is_dir():
        raise SystemExit(f"error: {path}: the folder {target.parent} does not exist")
    return target


def write_snapshot(net, path, meta):
    """The weights as a ConvNetJS snapshot, written to a temporary file of this process's own
    (mkstemp, beside the target) renamed into place; a symlink is written through."""
    obj = exported.to_convnetjs(net)
    obj["workbench"] = meta
    target = output_file(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        mode = target.stat().st_mode & 0o777 if target.exists() else 0o644
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(obj))
            os.fchmod(f.fileno(), mode)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


# -- the run -------------------------------------------------------------------------------
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="trained.json", help="the ConvNetJS snapshot to write (rank 0)")
    p.add_argument("--data", help="a folder with the four MNIST IDX files (default: data/ beside this file)")
    p.add_argument("--experiment", default=str(HERE / "experiment.json"), help="the settings file")
    p.add_argument("--epochs", type=float, help="passes over the training images (fractions allowed)")
    p.add_argument("--batch-size", type=int, help="examples per step, over all processes")
    p.add_argument("--learning-rate", type=float)
    p.add_argument("--validation", type=int, help="training images held out for validation")
    p.add_argument("--seed", type=int)
    p.add_argument("--fresh", action="store_true",
                   help="start from ConvNetJS's initial weights instead of the exported ones")
    p.add_argument("--weights-out", help="also save the trained weights as a state_dict (model.load reads it)")
    p.add_argument("--log-every", type=int, default=5000, help="examples between progress lines")
    p.add_argument("--cpu", action="store_true", help="train on the CPU even with a GPU")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    output_file(args.out)
    if args.weights_out:
        output_file(args.weights_out)
    experiment = json.loads(pathlib.Path(args.experiment).read_text())
    trainer = dict(experiment["trainer"])
    for key in ("batch_size", "learning_rate"):
        if getattr(args, key) is not None:
            trainer[key] = getattr(args, key)
    experiment["trainer"] = trainer
    for key in ("epochs", "validation", "seed"):
        if getattr(args, key) is not None:
            experiment[key] = getattr(args, key)
    world = World(force_cpu=args.cpu)
    finished = False
    try:
        code = run(args, experiment, world)
        finished = True
        return code
    finally:
        world.close(finished)


def run(args, experiment, world):
    trainer = experiment["trainer"]
    seed = experiment.get("seed")
    seed = world.broadcast_int(int.from_bytes(os.urandom(4), "little") if seed is None else seed)
    torch.manual_seed(seed)  # dropout and --fresh weights: the same on every process
    batch = int(trainer["batch_size"])
    if batch < world.size:
        raise SystemExit(f"error: a batch of {batch} cannot be shared by {world.size} processes; "
                         f"raise --batch-size")

    folder = data_folder(args, experiment)
    images, labels = load_split(folder, "train")
    test_images, test_labels = load_split(folder, "test")
    train_idx, val_idx = split_validation(len(images), experiment.get("validation") or 0)
    c, h, w = exported.INPUT_SHAPE
    if images.shape[3] != c:
        raise SystemExit(f"error: the network takes {c}-channel images, the data has {images.shape[3]}")
    aug = experiment.get("augment") or {}
    crop = aug.get("crop") or (h if images.shape[1] > h else None)
    if (crop or images.shape[1]) != h or (crop or images.shape[2]) != w:
        raise SystemExit(f"error: {images.shape[2]}x{images.shape[1]} images cropped to {crop} "
                         f"do not fit the network's {w}x{h} input")

    net = exported.load(map_location="cpu") if not args.fresh else exported.Network()
    if args.fresh:
        exported.reset_parameters(net, torch.Generator().manual_seed(seed))
    net = net.to(world.device).train()
    if world.distributed and world.device.type == "cuda":
        net = torch.nn.SyncBatchNorm.convert_sync_batchnorm(net)
    step_module = Scores(net)
    if world.distributed:
        step_module = torch.nn.parallel.DistributedDataParallel(
            step_module, device_ids=[world.local_rank] if world.device.type == "cuda" else None)
    optimizer = ConvNetJSTrainer(list(net.named_parameters()), exported.decay_multipliers(), **trainer)

    n_train = len(train_idx)
    total = int(round(experiment["epochs"] * n_train))
    sampler = DistributedSampler(range(n_train), num_replicas=world.size, rank=world.rank,
                                 shuffle=True, seed=seed, drop_last=True)
    rng = np.random.default_rng([seed, world.rank])
    loss_type = exported.LOSS
    world.log(f"training {experiment.get('name', 'network')} on {n_train:,} images from {folder} "
              f"for {experiment['epochs']:g} epochs: {trainer['method']}, batch {batch}"
              f"{f' ({world.size} processes)' if world.distributed else ''}, on {world.device.type}")

    epoch, seen, pos = 0, 0, 0
    sampler.set_epoch(epoch)
    order = np.fromiter(iter(sampler), dtype=np.int64)
    sums = torch.zeros(3, dtype=torch.float64, device=world.device)  # loss, right, examples since the last line
    next_log = args.log_every
    history = []
    t0 = last_time = time.perf_counter()
    while seen < total:
        step = min(batch, total - seen)
        if step < world.size:
            break  # a last step too small to share
        share = shares(step, world.size)
        if pos + max(share) > len(order):  # an epoch is over: validation, a new order
            epoch += 1
            if len(val_idx):
                acc, _ = evaluate(net, images[val_idx], labels[val_idx], world, loss_type)
                world.log(f"  validation accuracy {acc:.4f} at epoch {seen / n_train:.2f}")
            sampler.set_epoch(epoch)
            order = np.fromiter(iter(sampler), dtype=np.int64)
            pos = 0
        idx = train_idx[np.sort(order[pos:pos + share[world.rank]])]
        pos += max(share)  # every process moves on alike (a smaller share skips the rest)
        x = to_tensor(augment(images[idx], crop, int(aug.get("shift") or 0), bool(aug.get("flip")), rng),
                      world.device)
        y = torch.from_numpy(labels[idx]).to(world.device)
        optimizer.set_learning_rate(learning_rate(experiment.get("schedule"), trainer["learning_rate"],
                                                  total, seen))
        scores = step_module(x)
        cost = loss_sum(scores, y, loss_type)
        # DistributedDataParallel averages over processes: this makes it the whole batch's mean
        (cost * (world.size / step)).backward()
        optimizer.step(step)
        optimizer.zero_grad(set_to_none=True)
        sums[0] += cost.detach()  # kept on the device: no wait for it every step
        if loss_type != "regression":
            sums[1] += (scores.argmax(1) == y).sum()
        sums[2] += len(idx)
        seen += step
        if seen >= next_log or seen >= total:
            next_log += args.log_every
            loss, right, count = world.sum(sums)
            now = time.perf_counter()
            line = {"examples": seen, "epoch": round(seen / n_train, 4), "loss": loss / count,
                    "learning_rate": optimizer.param_groups[0]["lr"],
                    "examples_per_second": round(count / (now - last_time), 1)}
            if loss_type != "regression":
                line["train_accuracy"] = right / count
            history.append(line)
            world.log(f"epoch {line['epoch']:.2f}  examples {seen:,}  loss {line['loss']:.4f}"
                      + (f"  train acc {line['train_accuracy']:.3f}" if "train_accuracy" in line else "")
                      + f"  lr {line['learning_rate']:.3g}  {line['examples_per_second']:,.0f} ex/s")
            sums.zero_()
            last_time = now
    elapsed = time.perf_counter() - t0

    result = {"examples_seen": seen, "epochs": seen / n_train, "seconds": round(elapsed, 1),
              "processes": world.size, "device": world.device.type, "log": history}
    if len(val_idx):
        result["validation_accuracy"], _ = evaluate(net, images[val_idx], labels[val_idx], world, loss_type)
    result["test_accuracy"], result["test_loss"] = evaluate(net, test_images, test_labels, world, loss_type)
    if world.rank == 0:
        net.eval()
        meta = {"experiment": experiment, "trainer": trainer, "examples_seen": seen,
                "test_accuracy": result["test_accuracy"],
                "trained_with": f"PyTorch {torch.__version__}, {world.size} process(es) on {world.device.type}"}
        write_snapshot(net, args.out, meta)
        if args.weights_out:
            torch.save(net.state_dict(), args.weights_out)
        world.log(f"test accuracy {result['test_accuracy']:.4f}; wrote {args.out}")
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
