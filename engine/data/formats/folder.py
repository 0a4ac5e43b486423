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

from engine.core import limits
from engine.core.errors import DataError
from engine.core.io import open_regular
from engine.data.formats._common import destinations, make_dataset, natural_key, split_for_test, split_text

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

    def refuse(e):  # os.walk would skip a folder it cannot list, and the class would vanish
        raise DataError(f"{e.filename or folder}: cannot list ({e.strerror or e})")

    for dirpath, dirnames, filenames in os.walk(folder, onerror=refuse):
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
    if len(names) > limits.MAX_CLASSES:
        raise DataError(f"{root}: {len(names):,} class folders; the limit is {limits.MAX_CLASSES:,} classes")
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


#: EXIF orientations that turn the picture a quarter (its width and height swap).
_QUARTER_TURNS = {5, 6, 7, 8}


def _orientation(im):
    """The EXIF orientation (1..8) of an opened image; 1 (as stored) when it has none."""
    try:
        value = im.getexif().get(0x0112, 1)
    except Exception:  # a damaged EXIF block: the picture as stored
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _probe(path, Image):
    """``(width, height, colour)`` from a file's header, as the picture is shown (a photo's
    EXIF orientation applied, as every viewer does)."""
    with open_regular(path, DataError) as f, Image.open(f) as im:
        w, h = im.size
        if _orientation(im) in _QUARTER_TURNS:
            w, h = h, w
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
    from PIL import ImageOps
    with open_regular(path, DataError) as f, Image.open(f) as im:
        turned = _orientation(im) in _QUARTER_TURNS
        shown = im.size[::-1] if turned else im.size
        resized = shown != size
        if resized and im.format == "JPEG":  # decode at a reduced scale when it can
            im.draft("RGB" if channels == 3 else "L", size[::-1] if turned else size)
        if _orientation(im) != 1:
            im = ImageOps.exif_transpose(im)
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


def read_image(path, size=None, channels=None):
    """One image file read as the folder loader reads its images: uint8 ``(H, W, C)``.

    ``size`` ``(width, height)`` resizes it (aspect not kept, as for a dataset's odd-sized
    images; None keeps its size); ``channels`` 1 or 3 (None: 3 for a colour file, else 1).
    Transparency goes on black. Raises DataError naming the file when it cannot be read.
    """
    Image = _image_module()
    path = pathlib.Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            w, h, colour = _probe(path, Image)
            size = (w, h) if size is None else (int(size[0]), int(size[1]))
            channels = (3 if colour else 1) if channels is None else int(channels)
            pixels, _, _ = _decode(path, size, channels, Image)
    except MemoryError:
        raise
    except Exception as e:  # anything a damaged file makes a decoder raise
        raise DataError(f"{path.name}: cannot read as an image ({_short(e)})") from None
    return np.ascontiguousarray(pixels.reshape(size[1], size[0], channels))


def _short(e):
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0][:120]


def _in_parallel(work, n, job, units, stop):
    """Run ``work(start, end)`` over ranges of ``range(n)`` on ``WORKERS`` threads; each returns
    ``{index: reason}`` for the items that failed, merged here. Progress and cancellation are
    handled on the caller's thread; ``stop`` is set when it returns or raises."""
    ranges = [(a, min(n, a + _FILES_A_TASK)) for a in range(0, n, _FILES_A_TASK)]
    ex = ThreadPoolExecutor(WORKERS, thread_name_prefix="dataset-load")
    failed = {}
    try:
        futures = [ex.submit(work, a, b) for a, b in ranges]
        for (a, b), fut in zip(ranges, futures):
            failed.update(fut.result())
            job.report(units * (b - a))
        return failed
    finally:
        stop.set()
        ex.shutdown(wait=True, cancel_futures=True)


def load_folder(root, job):
    Image = _image_module()
    root = pathlib.Path(root)
    parts, names, notes = find_layout(root)
    for text in notes:
        job.note(text)
    if "all" in parts:
        entries = parts["all"]
        labels = np.array([c for _, c in entries], np.int64)
        is_test = split_for_test(labels)
        split = split_text()
    else:
        entries = parts["train"] + parts["test"]
        labels = np.array([c for _, c in entries], np.int64)
        is_test = np.arange(len(entries)) >= len(parts["train"])
        split = "given"
    paths = [p for p, _ in entries]
    del entries, parts
    dest, _ = destinations(is_test)
    n = len(paths)
    job.start(3 * n)

    def rel(i):
        return os.path.relpath(paths[i], root)

    width = np.zeros(n, np.int64)
    height = np.zeros(n, np.int64)
    colour = np.zeros(n, bool)
    with warnings.catch_warnings():
        # Pillow warns about images above its pixel limit; _probe refuses them instead. (The
        # filter is process-wide while the load runs; it only silences that warning.)
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        probing = threading.Event()  # set: stop early

        def probe(a, b):
            failed = {}
            for i in range(a, b):
                if probing.is_set():
                    break
                try:
                    width[i], height[i], colour[i] = _probe(paths[i], Image)
                except MemoryError:
                    raise
                except Exception as e:  # anything a damaged file makes a decoder raise
                    failed[i] = _short(e)
            return failed

        bad = _in_parallel(probe, n, job, 1, probing)
        _check_bad(bad, n, rel, root)
        good = np.ones(n, bool)
        good[list(bad)] = False
        sizes = collections.Counter(zip(width[good].tolist(), height[good].tolist()))
        (w, h), _ = sizes.most_common(1)[0]
        channels = 3 if colour[good].any() else 1
        item = (h, w, channels)
        # slots in the order train then test, leaving out files whose header did not read
        order = np.flatnonzero(good)
        order = order[np.argsort(dest[order], kind="stable")]
        n_train = int(np.count_nonzero(~is_test[order]))
        job.check_size(len(order) * h * w * channels, root.name)
        out = np.empty((len(order),) + item, np.uint8)
        resized = np.zeros(len(order), bool)
        alpha = np.zeros(len(order), bool)
        decoding = threading.Event()

        def decode(a, b):
            failed = {}
            for s in range(a, b):
                if decoding.is_set():
                    break
                try:
                    pixels, resized[s], alpha[s] = _decode(paths[order[s]], (w, h), channels, Image)
                    out[s] = pixels.reshape(item)
                except MemoryError:
                    raise
                except Exception as e:
                    failed[s] = _short(e)
            return failed

        failed = _in_parallel(decode, len(order), job, 2, decoding)
    for s, why in failed.items():
        bad[int(order[s])] = why
    _check_bad(bad, n, rel, root)
    labels = labels[order]
    if failed:  # move the good images down over the failed ones, in place
        ok = np.ones(len(order), bool)
        ok[list(failed)] = False
        keep = np.flatnonzero(ok)
        for k, s in enumerate(keep):
            if k != s:
                out[k] = out[s]
        n_train = int(np.count_nonzero(ok[:n_train]))
        out, labels, resized, alpha = out[:len(keep)], labels[keep], resized[keep], alpha[keep]
    if bad:
        first = ", ".join(f"{rel(i)} ({bad[i]})" for i in sorted(bad)[:3])
        job.note(f"skipped {len(bad)} of {n} image files that could not be read: {first}"
                 + (" ..." if len(bad) > 3 else ""))
    if resized.any():
        seen = ", ".join(f"{a}x{b} ({k})" for (a, b), k in sizes.most_common(4))
        job.note(f"resized {int(resized.sum())} of {len(out)} images to {w}x{h}, the most common size "
                 f"(sizes: {seen}{', ...' if len(sizes) > 4 else ''}); aspect ratios not kept")
    if channels == 3 and not colour[good].all():
        job.note(f"{int(np.count_nonzero(~colour[good]))} grey images given three equal channels "
                 f"(the others are in colour)")
    if alpha.any():
        job.note(f"{int(alpha.sum())} images with transparency placed on black")
    train = (out[:n_train], labels[:n_train], f"{root.name} (training images)")
    test = (out[n_train:], labels[n_train:], f"{root.name} (test images)")
    return make_dataset(train, test, root.name, root, "folder", split, job.notes, names)


def _check_bad(bad, n, rel, root):
    """Refuse the folder when too many of its files cannot be read (``bad``: index -> reason)."""
    if not bad or len(bad) <= MAX_BAD_SHARE * n and len(bad) < n:
        return
    first, *others = sorted(bad)
    also = ", ".join(rel(i) for i in others[:3])
    raise DataError(f"{rel(first)}: cannot read as an image ({bad[first]}); {len(bad)} of {n} image files in "
                    f"{root.name} could not be read" + (f" (also {also}{', ...' if len(others) > 3 else ''})"
                                                       if also else ""))
