"""The Data place: what the dataset in use is.

Where it came from (format, file or folder, split, the loader's notes), image size and
channels, counts per class as a bar chart (training and test), the mean image with the
pixel statistics, and a grid of samples per class, each row led by the class's mean
image. The numbers and pictures are made by the session's overview job (a pass over the
training images) when the place is on screen and the dataset has changed.
"""
import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QScrollArea, QSizePolicy, QVBoxLayout, QWidget

from workbench.views.colour import pixels_qimage
from workbench.views.theme import ACCENT

TEST_COLOR = QColor("#10b981")
NAME_W = 140  # the widest class-name column of the chart and the grid
FORMATS = {"idx": "IDX files", "npz": "NumPy .npz", "csv": "CSV", "folder": "a folder of images per class"}


def name_width(fm, names, least=16):
    """A column wide enough for the names (up to ``NAME_W``; longer ones are elided)."""
    return min(NAME_W, max([least] + [fm.horizontalAdvance(n) for n in names]) + 16)


def tile_side(h, w, target=64):
    """How large a sample is drawn: whole multiples of small images, big ones shrunk to ``target``."""
    m = max(h, w)
    return m * max(1, target // m) if m <= target else target


class ClassCountsChart(QWidget):
    """Training and test images per class as horizontal bars, one row per class, names at the left."""

    ROW = 18

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("classCounts")
        self.names, self.train, self.test = [], np.zeros(0), np.zeros(0)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)

    def set_counts(self, names, train, test):
        self.names, self.train, self.test = list(names), np.asarray(train), np.asarray(test)
        self.setFixedHeight(self.sizeHint().height())
        self.update()

    def sizeHint(self):
        return QSize(360, 24 + self.ROW * len(self.names))

    def paintEvent(self, e):
        p = QPainter(self)
        pal = self.palette()
        fm = QFontMetrics(self.font())
        w = self.width()
        left = name_width(fm, self.names)
        peak = max(1, int((self.train + self.test).max(initial=0)))
        text_w = fm.horizontalAdvance(f"{peak:,} + {peak:,}") + 12
        bar_w = max(40, w - left - text_w)
        p.setPen(pal.placeholderText().color())
        p.fillRect(QRectF(left, 6, 10, 10), ACCENT)
        p.drawText(QRectF(left + 14, 0, 80, 22), Qt.AlignVCenter, "training")
        p.fillRect(QRectF(left + 90, 6, 10, 10), TEST_COLOR)
        p.drawText(QRectF(left + 104, 0, 80, 22), Qt.AlignVCenter, "test")
        for k, name in enumerate(self.names):
            y = 24 + k * self.ROW
            p.setPen(pal.text().color())
            p.drawText(QRectF(0, y, left - 8, self.ROW), Qt.AlignVCenter | Qt.AlignRight,
                       fm.elidedText(name, Qt.ElideRight, left - 8))
            a = bar_w * float(self.train[k]) / peak
            b = bar_w * float(self.test[k]) / peak
            p.fillRect(QRectF(left, y + 3, a, self.ROW - 6), ACCENT)
            p.fillRect(QRectF(left + a, y + 3, b, self.ROW - 6), TEST_COLOR)
            p.setPen(pal.placeholderText().color())
            p.drawText(QRectF(left + a + b + 6, y, text_w, self.ROW), Qt.AlignVCenter,
                       f"{int(self.train[k]):,} + {int(self.test[k]):,}")
        p.end()


class SampleGrid(QWidget):
    """One row per class: its name and count, its mean image, then as many samples as fit."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("sampleGrid")
        self.rows = []  # (name, count, mean QImage, [sample QImages])
        self.side = 56
        self.left = NAME_W

    def set_rows(self, names, counts, means, samples, image_shape):
        h, w, _ = image_shape
        self.side = tile_side(h, w)
        self.rows = [(names[k], int(counts[k]), pixels_qimage(means[k]), [pixels_qimage(s) for s in samples[k]])
                     for k in range(len(samples))]
        small = QFont(self.font())
        small.setPointSizeF(self.font().pointSizeF() * 0.85)
        count_w = QFontMetrics(small).horizontalAdvance(f"{max(counts, default=0):,} images")
        self.left = max(name_width(QFontMetrics(self.font()), [r[0] for r in self.rows]), count_w + 12)
        self.setMinimumSize(self.sizeHint())
        self.updateGeometry()
        self.update()

    def sizeHint(self):
        return QSize(self.left + 5 * (self.side + 4) + 16, len(self.rows) * (self.side + 6) + 24)

    def columns(self):
        """Samples a row shows: as many as fit the width."""
        return max(1, int((self.width() - self.left - 12) // (self.side + 4)) - 1)

    def tile_rect(self, row, column):
        """Where the mean (column 0) or sample ``column - 1`` of class ``row`` is drawn."""
        x = self.left + column * (self.side + 4) + (8 if column else 0)
        return QRectF(x, 20 + row * (self.side + 6), self.side, self.side)

    def paintEvent(self, e):
        p = QPainter(self)
        pal = self.palette()
        fm = QFontMetrics(self.font())
        small = QFont(self.font())
        small.setPointSizeF(self.font().pointSizeF() * 0.85)
        p.setPen(pal.placeholderText().color())
        p.setFont(small)
        p.drawText(QRectF(self.left, 0, self.side + 8, 18), Qt.AlignVCenter, "mean")
        p.drawText(QRectF(self.left + self.side + 12, 0, 300, 18), Qt.AlignVCenter, "samples (training images)")
        big = max(r[2].width() for r in self.rows) > self.side if self.rows else False
        p.setRenderHint(QPainter.SmoothPixmapTransform, big)
        shown = self.columns()
        for k, (name, count, mean, samples) in enumerate(self.rows):
            r = self.tile_rect(k, 0)
            p.setFont(self.font())
            p.setPen(pal.text().color())
            p.drawText(QRectF(0, r.top(), self.left - 8, r.height() / 2), Qt.AlignBottom | Qt.AlignLeft,
                       fm.elidedText(name, Qt.ElideRight, self.left - 8))
            p.setFont(small)
            p.setPen(pal.placeholderText().color())
            p.drawText(QRectF(0, r.center().y(), self.left - 8, r.height() / 2), Qt.AlignTop | Qt.AlignLeft,
                       f"{count:,} images")
            p.drawImage(r, mean)
            for j, q in enumerate(samples[:shown]):
                p.drawImage(self.tile_rect(k, j + 1), q)
        p.end()


class MeanImage(QWidget):
    """The mean training image, large."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("meanImage")
        self.image = None
        self.setFixedSize(112, 112)

    def set_image(self, mean):
        self.image = pixels_qimage(mean)
        self.update()

    def paintEvent(self, e):
        if self.image is None:
            return
        p = QPainter(self)
        p.setRenderHint(QPainter.SmoothPixmapTransform, self.image.width() > self.width())
        p.drawImage(QRectF(0, 0, self.width(), self.height()), self.image)
        p.end()


def _plain(text=""):
    label = QLabel(text)
    label.setTextFormat(Qt.PlainText)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextSelectableByMouse)
    return label


def stats_text(ov):
    """The pixel statistics, one line per channel."""
    names = ["grey"] if len(ov["pixel_mean"]) == 1 else ["red", "green", "blue"]
    return "mean ± std, range\n" + "\n".join(
        f"{n}: {m:.1f} ± {s:.1f}, {lo}..{hi}"
        for n, m, s, lo, hi in zip(names, ov["pixel_mean"], ov["pixel_std"], ov["pixel_min"], ov["pixel_max"]))


class DatasetView(QWidget):
    """The dataset in use: where from, shape, counts per class, mean image, statistics, samples."""

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.setObjectName("datasetView")
        self.session = session
        self.overview = None
        self._asked = None  # the dataset version last asked about
        self.title = QLabel()
        self.title.setObjectName("datasetTitle")
        self.title.setTextFormat(Qt.PlainText)
        f = QFont(self.title.font())
        f.setPointSizeF(f.pointSizeF() * 1.3)
        f.setBold(True)
        self.title.setFont(f)
        self.facts = _plain()
        self.facts.setObjectName("datasetFacts")
        self.notes = _plain()
        self.notes.setObjectName("datasetViewNotes")
        self.notes.setStyleSheet("color: palette(placeholder-text)")
        self.chart = ClassCountsChart()
        self.mean = MeanImage()
        self.stats = _plain()
        self.stats.setObjectName("pixelStats")
        self.grid = SampleGrid()
        self.status = QLabel("Computing…")
        self.status.setObjectName("datasetStatus")
        left = QVBoxLayout()
        left.setSpacing(8)
        left.addWidget(self.title)
        left.addWidget(self.facts)
        left.addWidget(self.notes)
        left.addWidget(self._heading("Images per class"))
        left.addWidget(self.chart)
        left.addWidget(self._heading("Mean training image and pixel statistics (0..255)"))
        row = QHBoxLayout()
        row.addWidget(self.mean, 0, Qt.AlignTop)
        row.addWidget(self.stats, 1, Qt.AlignTop)
        left.addLayout(row)
        left.addStretch(1)
        left_w = QWidget()
        left_w.setLayout(left)
        left_scroll = self._scroll(left_w)
        left_scroll.setMinimumWidth(380)
        left_scroll.setMaximumWidth(520)
        grid_scroll = self._scroll(self.grid)
        right = QVBoxLayout()
        right.addWidget(self._heading("Samples per class"))
        right.addWidget(grid_scroll, 1)
        lay = QGridLayout(self)
        lay.setContentsMargins(8, 8, 8, 8)
        lay.addWidget(self.status, 0, 0, 1, 2)
        lay.addWidget(left_scroll, 1, 0)
        lay.addLayout(right, 1, 1)
        lay.setColumnStretch(1, 1)
        lay.setRowStretch(1, 1)
        session.data.changed.connect(self._dataset_changed)
        session.data.overview.connect(self.show_overview)
        session.data.loading.connect(self._loading)
        session.settingsChanged.connect(self._show_notes)
        self._show_facts()

    @staticmethod
    def _heading(text):
        label = QLabel(text)
        f = QFont(label.font())
        f.setBold(True)
        label.setFont(f)
        return label

    @staticmethod
    def _scroll(widget):
        s = QScrollArea()
        s.setWidget(widget)
        s.setWidgetResizable(True)
        s.setFrameShape(QFrame.NoFrame)
        return s

    # -- following the session -----------------------------------------------------------------
    def _dataset_changed(self):
        self._show_facts()
        self._refresh()

    def _refresh(self):
        """Ask for the overview of the dataset in use, now if on screen (else when shown)."""
        s = self.session
        if self.isVisible() and self._asked != s.data.version:
            self._asked = s.data.version
            self.status.setText("Computing the counts, the mean image and the statistics…")
            self.status.show()
            s.data.describe()

    def showEvent(self, e):
        super().showEvent(e)
        self._refresh()

    def _loading(self, busy):
        if busy:
            self.status.setText("Loading another dataset… (Train shows its progress; this one stays "
                                "in use until it has loaded)")
            self.status.show()
        elif self.overview is not None and self.overview["version"] == self.session.data.version:
            self.status.hide()

    def _show_facts(self):
        ds = self.session.data.dataset
        h, w, c = ds.image_shape
        self.title.setText(ds.name)
        where = "bundled with the app" if ds.source in (None, "bundled") else str(ds.source)
        split = "given by the source" if ds.split == "given" else str(ds.split)
        self.facts.setText(f"Format: {FORMATS.get(ds.format or 'idx', ds.format)}\nFrom: {where}\n"
                           f"Images: {w}x{h}, {c} channel{'s' if c > 1 else ''} "
                           f"({'grey' if c == 1 else 'RGB'})\n"
                           f"Classes: {ds.num_classes}\n"
                           f"Training: {len(ds.train):,} images, test: {len(ds.test):,} images\n"
                           f"Split: {split}")
        self._show_notes()

    def _show_notes(self):
        notes = self.session.dataset_notes
        self.notes.setText("\n".join(f"\u2022 {n}" for n in notes))
        self.notes.setVisible(bool(notes))

    def show_overview(self, ov):
        if ov["version"] != self.session.data.version:
            return  # about a dataset that has been replaced since
        self.overview = ov
        self.chart.set_counts(ov["class_names"], ov["train_counts"], ov["test_counts"])
        self.mean.set_image(ov["mean_image"])
        self.stats.setText(stats_text(ov))
        shown = len(ov["samples"])
        names = ov["class_names"]
        self.grid.set_rows(names, ov["train_counts"], ov["class_means"], ov["samples"], ov["image_shape"])
        if shown < len(names):
            self.status.setText(f"The grid shows the first {shown} of {len(names)} classes.")
        elif not self.session.data.busy:
            self.status.hide()
