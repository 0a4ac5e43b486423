"""A folder of images per class: ``cat/001.png``, ``dog/002.jpg``, ... (PNG, JPEG, BMP, GIF, TIFF, WebP, PNM).

Either ``train/`` and ``test/`` subfolders (also ``training``/``testing``/``val``/``validation``)
that each hold one folder per class, or one folder per class that the tool splits. Class
names are the folder names, in natural order ("2" before "10"); images may sit deeper inside
a class folder. Images are decoded with Pillow (so the CLI and the app see the same pixels),
on several threads at once, in two passes: the headers first (size and colour of every file),
then the pixels straight into the one array that is returned.

- Grey when every image is grey, else RGB (grey ones get three equal channels).
- Mixed sizes: every image is resized to the most common size (aspect not kept), with a note.
- Transparent pixels are placed on black.
- Files that cannot be read (not images, truncated, damaged) are skipped with a note naming
  the first few when they are at most a tenth of the files, else the load fails naming them.
"""
import collections
import os
import pathlib
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..errors import DataError
from ._common import destinations, make_dataset, natural_key, split_for_test, split_text

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm",
                  ".pbm", ".pnm"}
TRAIN_NAMES = ("train", "training")
TEST_NAMES = ("test", "testing", "val", "valid", "validation")

#: Unreadable files are skipped (with a note) while they are at most this share of the files.
MAX_BAD_SHARE = 0.1

#: Threads that decode at once.
WORKERS = max(1, min(4, os.cpu_count() or 1))

_FILES_A_TASK = 64
_GREY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
_ALPHA_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}


def _image_module():
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow is a dependency
        raise DataError("reading image files needs Pillow (pip install Pillow)") from None
    return Image


def _subdirs(folder):
    try:
        return sorted((p for p in pathlib.Path(folder).iterdir() if p.is_dir() and not p.name.startswith(".")),
                      key=lambda p: natural_key(p.name))
    except OSError as e:
        raise DataError(f"{folder}: cannot list ({e.strerror or e})") from None


def _images_under(folder):
    """Image files anywhere under ``folder`` (sorted), and the number of other files."""
    found, other = [], 0
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in sorted(filenames, key=natural_key):
            if f.startswith("."):
                continue
            if os.path.splitext(f)[1].lower() in IMAGE_SUFFIXES:
                found.append(os.path.join(dirpath, f))
            else:
                other += 1
    return found, other


def has_class_folders(folder):
    return any(_subdirs(folder))


def find_layout(root):
    """``(parts, class_names, notes)``: ``parts`` is ``{part: [(file, class index), ...]}``
    with part "train"/"test", or "all" when the tool is to split."""
    root = pathlib.Path(root)
    subs = _subdirs(root)
    by_name = {p.name.lower(): p for p in subs}
    train = next((by_name[n] for n in TRAIN_NAMES if n in by_name), None)
    test = next((by_name[n] for n in TEST_NAMES if n in by_name), None)
    if train is not None and test is not None and _subdirs(train) and _subdirs(test):
        part_dirs = {"train": train, "test": test}
    else:
        part_dirs = {"all": root}
    notes = []
    files = {}
    other = 0
    empty = []
    for part, d in part_dirs.items():
        files[part] = {}
        for c in _subdirs(d):
            found, n_other = _images_under(c)
            other += n_other
            if found:
                files[part][c.name] = found
            else:
                empty.append(str(c.relative_to(root)))
    names = sorted({c for part in files.values() for c in part}, key=natural_key)
    if len(names) < 2:
        what = f"one class folder with images ({names[0]})" if names else "no class folders with images"
        raise DataError(f"{root}: found {what}; a dataset needs at least two classes, one folder of "
                        f"images each (e.g. {root.name}/cat/1.png, {root.name}/dog/1.png)")
    loose = [p for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    if loose:
        notes.append(f"{len(loose)} image(s) directly in {root.name}/ (not in a class folder) ignored")
    if empty:
        notes.append(f"folders without images ignored: {', '.join(empty[:5])}"
                     + (f" and {len(empty) - 5} more" if len(empty) > 5 else ""))
    if other:
        notes.append(f"{other} file(s) that are not images (by their names) ignored")
    index = {n: i for i, n in enumerate(names)}
    parts = {part: [(f, index[c]) for c in sorted(classes, key=natural_key) for f in classes[c]]
             for part, classes in files.items()}
    return parts, names, notes


def _probe(path, Image):
    """``(width, height, colour)`` from a file's header."""
    with Image.open(path) as im:
        w, h = im.size
        if w * h > Image.MAX_IMAGE_PIXELS:
            raise ValueError(f"{w}x{h} pixels, too large for a dataset image")
        mode = im.mode
        if mode == "P":
            pal = im.getpalette() or []
            colour = any(pal[i] != pal[i + 1] or pal[i] != pal[i + 2] for i in range(0, len(pal) - 2, 3))
        else:
            colour = mode not in _GREY_MODES
    return w, h, colour


def _decode(path, size, channels, Image):
    """The pixels of one file as ``(H, W)`` or ``(H, W, 3)`` uint8, and whether it was resized /
    had transparency."""
    with Image.open(path) as im:
        resized = im.size != size
        if resized and im.format == "JPEG":
            im.draft("RGB" if channels == 3 else "L", size)  # decode at a reduced scale when it can
        alpha = im.mode in _ALPHA_MODES or "transparency" in im.info
        if alpha:
            rgba = im.convert("RGBA")
            im = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
            im.alpha_composite(rgba)
        if im.mode.startswith("I") or im.mode == "F":
            a = np.asarray(im)
            if im.mode.startswith("I;16") or (im.mode == "I" and a.max(initial=0) > 255):
                a = a >> 8  # 16-bit pixels: keep the high byte
            im = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
        im = im.convert("L" if channels == 1 else "RGB")
        if im.size != size:
            im = im.resize(size, Image.Resampling.BILINEAR)
        return np.asarray(im), resized, alpha


def _short(e):
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0][:120]


def _in_parallel(work, items, job, units, stop):
    """Run ``work(chunk)`` over chunks of ``items`` on ``WORKERS`` threads, in order; returns the
    results. Progress and cancellation are handled here, on the caller's thread."""
    chunks = [items[i:i + _FILES_A_TASK] for i in range(0, len(items), _FILES_A_TASK)]
    ex = ThreadPoolExecutor(WORKERS, thread_name_prefix="dataset-load")
    try:
        futures = [ex.submit(work, c) for c in chunks]
        results = []
        for c, fut in zip(chunks, futures):
            results.extend(fut.result())
            job.report(units * len(c))
        return results
    finally:
        stop.set()
        ex.shutdown(wait=True, cancel_futures=True)


def load_folder(root, job):
    Image = _image_module()
    root = pathlib.Path(root)
    parts, names, notes = find_layout(root)
    for n in notes:
        job.note(n)
    if "all" in parts:
        entries = parts["all"]
        is_test = split_for_test([c for _, c in entries])
        split = split_text()
    else:
        entries = parts["train"] + parts["test"]
        is_test = np.array([False] * len(parts["train"]) + [True] * len(parts["test"]))
        split = "given"
    dest, n_train = destinations(is_test)
    n = len(entries)
    job.start(3 * n)

    def rel(path):
        return os.path.relpath(path, root)

    with warnings.catch_warnings():
        # Pillow warns about images above its pixel limit; _probe refuses them instead. (The
        # filter is process-wide while the load runs; it only silences that warning.)
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)

        probing = threading.Event()  # set: stop early

        def probe(chunk):
            out = []
            for path, _ in chunk:
                if probing.is_set():
                    break
                try:
                    out.append(_probe(path, Image))
                except MemoryError:
                    raise
                except Exception as e:  # anything a damaged file makes a decoder raise
                    out.append(_short(e))
            return out

        headers = _in_parallel(probe, entries, job, 1, probing)
        bad = [(entries[i][0], h) for i, h in enumerate(headers) if isinstance(h, str)]
        good = [i for i, h in enumerate(headers) if not isinstance(h, str)]
        _check_bad(bad, n, rel, root)
        sizes = collections.Counter(headers[i][:2] for i in good)
        (w, h), _ = sizes.most_common(1)[0]
        colour = [headers[i][2] for i in good]
        channels = 3 if any(colour) else 1
        item = (h, w, channels)
        # slots in the order train then test, leaving out files whose header did not read
        order = sorted(good, key=lambda i: dest[i])
        slot_of = {i: s for s, i in enumerate(order)}
        n_train_good = sum(1 for i in good if not is_test[i])
        job.check_size(len(order) * h * w * channels, root.name)
        out = np.empty((len(order),) + item, np.uint8)
        decoding = threading.Event()

        def decode(chunk):
            res = []
            for i in chunk:
                if decoding.is_set():
                    break
                try:
                    pixels, resized, alpha = _decode(entries[i][0], (w, h), channels, Image)
                    out[slot_of[i]] = pixels.reshape(item)
                    res.append((resized, alpha))
                except MemoryError:
                    raise
                except Exception as e:
                    res.append(_short(e))
            return res

        results = _in_parallel(decode, order, job, 2, decoding)
    failed = [(entries[i][0], r) for i, r in zip(order, results) if isinstance(r, str)]
    bad += failed
    _check_bad(bad, n, rel, root)
    ok = np.array([not isinstance(r, str) for r in results], bool)
    labels = np.array([entries[i][1] for i in order], np.int64)
    if failed:  # move the good images down over the failed ones, in place
        keep = np.flatnonzero(ok)
        for k, s in enumerate(keep):
            if k != s:
                out[k] = out[s]
        n_train_good = int(np.count_nonzero(ok[:n_train_good]))
        out, labels = out[:len(keep)], labels[keep]
    if bad:
        first = ", ".join(f"{rel(p)} ({why})" for p, why in bad[:3])
        job.note(f"skipped {len(bad)} of {n} image files that could not be read: {first}"
                 + (" ..." if len(bad) > 3 else ""))
    n_resized = sum(1 for r in results if not isinstance(r, str) and r[0])
    if n_resized:
        seen = ", ".join(f"{a}x{b} ({k})" for (a, b), k in sizes.most_common(4))
        job.note(f"resized {n_resized} of {len(order)} images to {w}x{h}, the most common size "
                 f"(sizes: {seen}{', ...' if len(sizes) > 4 else ''}); aspect ratios not kept")
    if channels == 3 and not all(colour):
        job.note(f"{colour.count(False)} grey images given three equal channels (the others are in colour)")
    n_alpha = sum(1 for r in results if not isinstance(r, str) and r[1])
    if n_alpha:
        job.note(f"{n_alpha} images with transparency placed on black")
    train = (out[:n_train_good], labels[:n_train_good], f"{root.name} (training images)")
    test = (out[n_train_good:], labels[n_train_good:], f"{root.name} (test images)")
    ds = make_dataset(train, test, root.name, root, "folder", split, job.notes, names)
    return ds


def _check_bad(bad, n, rel, root):
    if not bad:
        return
    if len(bad) > MAX_BAD_SHARE * n or len(bad) >= n:
        path, why = bad[0]
        others = ", ".join(rel(p) for p, _ in bad[1:4])
        raise DataError(f"{rel(path)}: cannot read as an image ({why}); {len(bad)} of {n} image files in "
                        f"{root.name} could not be read" + (f" (also {others}" + (", ...)" if len(bad) > 4 else ")")
                                                           if others else ""))
