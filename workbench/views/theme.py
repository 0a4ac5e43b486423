"""Fusion style with a restrained palette that follows the system's light or dark mode."""
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette

ACCENT = QColor("#3b82f6")


def is_dark():
    try:
        return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark
    except AttributeError:  # Qt before 6.5
        return False


def apply(app, dark=None):
    """Fusion, a light or dark palette with one accent colour, pyqtgraph to match."""
    import pyqtgraph as pg
    app.setStyle("Fusion")
    dark = is_dark() if dark is None else dark
    p = QPalette()
    if dark:
        base, window, text, mid = QColor("#1f2126"), QColor("#2a2d33"), QColor("#e6e6e6"), QColor("#4a4f58")
        alt, placeholder, button = QColor("#25282d"), QColor("#9aa0aa"), QColor("#33373e")
    else:
        base, window, text, mid = QColor("#ffffff"), QColor("#f3f4f6"), QColor("#1f2328"), QColor("#c9ced6")
        alt, placeholder, button = QColor("#f8f9fb"), QColor("#6b7280"), QColor("#fbfbfc")
    for role, color in ((QPalette.Window, window), (QPalette.Base, base), (QPalette.AlternateBase, alt),
                        (QPalette.Text, text), (QPalette.WindowText, text), (QPalette.ButtonText, text),
                        (QPalette.Button, button), (QPalette.Mid, mid), (QPalette.Midlight, mid.lighter(115)),
                        (QPalette.PlaceholderText, placeholder), (QPalette.ToolTipBase, base),
                        (QPalette.ToolTipText, text), (QPalette.Highlight, ACCENT),
                        (QPalette.HighlightedText, QColor("white")), (QPalette.Link, ACCENT)):
        p.setColor(role, color)
    p.setColor(QPalette.Disabled, QPalette.Text, placeholder)
    p.setColor(QPalette.Disabled, QPalette.ButtonText, placeholder)
    p.setColor(QPalette.Disabled, QPalette.WindowText, placeholder)
    app.setPalette(p)
    pg.setConfigOptions(antialias=True, background=base, foreground=text)
    return dark


def plot_colors():
    """Curve colours: loss, smoothed loss, train, validation, test, earlier runs."""
    dark = is_dark()
    return {"loss_raw": QColor(59, 130, 246, 70), "loss": QColor("#3b82f6"),
            "decay": QColor("#a855f7"), "train": QColor("#3b82f6"), "validation": QColor("#f59e0b"),
            "test": QColor("#10b981"), "old": QColor(150, 150, 150, 110 if dark else 90)}


def plain_axes(plot_item, *sides):
    """Axes that show values as they are: pyqtgraph's auto SI prefix off (accuracy 0.95 stays
    0.95, not 950 with the label "(x0.001)"; a loss of 0.002 stays 0.002). ``sides``:
    default left and bottom."""
    for side in sides or ("left", "bottom"):
        plot_item.getAxis(side).enableAutoSIPrefix(False)
