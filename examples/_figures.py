"""Saving the examples' figures: every figure as PNG (>= 150 dpi) and PDF, checked before it is written.

``save_figure(fig, out / "name.png")`` writes ``name.png`` and ``name.pdf`` after checking that
every axes showing data has non-empty x and y labels (an axes sharing its neighbour's axis may
leave the label to that neighbour), that no legend has an empty entry and that no two tick labels
of an axis overlap; a defect raises ValueError naming the axes, so an example cannot ship an
unlabelled or unreadable figure.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

#: resolution of the PNG copies (the PDF is vector)
DPI = 150


def _has_data(ax) -> bool:
    return bool(ax.lines or ax.collections or ax.images or ax.patches or ax.containers)


def _shares_y_label(ax) -> bool:
    """True when another axes sharing this y axis carries the label (row of panels, label on the left)."""
    return any(other is not ax and other.get_ylabel().strip() for other in ax.get_shared_y_axes().get_siblings(ax))


def _shares_x_label(ax) -> bool:
    return any(other is not ax and other.get_xlabel().strip() for other in ax.get_shared_x_axes().get_siblings(ax))


def _overlapping_ticks(ax, renderer) -> list[str]:
    out = []
    for which, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
        boxes = [t.get_window_extent(renderer) for t in axis.get_ticklabels(which="both")
                 if t.get_visible() and t.get_text().strip()]
        key = (lambda b: b.x0) if which == "x" else (lambda b: b.y0)
        boxes.sort(key=key)
        for b0, b1 in zip(boxes, boxes[1:]):
            if b0.overlaps(b1) and b0.intersection(b0, b1) is not None:
                inter = b0.intersection(b0, b1)
                if inter.width > 0.5 and inter.height > 0.5:  # touching edges are fine, overlaps are not
                    out.append(f"overlapping {which} tick labels")
                    break
    return out


def figure_defects(fig) -> list[str]:
    """Unlabelled axes, empty legend entries and overlapping tick labels of ``fig`` (empty list: none)."""
    bad = []
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for i, ax in enumerate(fig.axes):
        name = f"axes {i} ({ax.get_title() or 'untitled'})"
        if getattr(ax, "_colorbar", None) is not None:  # a colorbar: one label, along its long axis
            if not (ax.get_xlabel().strip() or ax.get_ylabel().strip()):
                bad.append(f"{name}: colorbar without a label")
            continue
        if not ax.get_visible() or not _has_data(ax):
            continue
        if not ax.get_xlabel().strip() and not _shares_x_label(ax):
            bad.append(f"{name}: no x label")
        if not ax.get_ylabel().strip() and not _shares_y_label(ax):
            bad.append(f"{name}: no y label")
        bad += [f"{name}: {d}" for d in _overlapping_ticks(ax, renderer)]
        leg = ax.get_legend()
        if leg is not None:
            for t in leg.get_texts():
                if not t.get_text().strip():
                    bad.append(f"{name}: empty legend entry")
            for line in ax.lines:  # a legend entry whose curve shows nothing (no finite point)
                label = str(line.get_label())
                if label.startswith("_") or line.get_linestyle() in ("None", "") and line.get_marker() in (None, "None", ""):
                    continue
                x = np.asarray(line.get_xdata(), dtype=float)
                y = np.asarray(line.get_ydata(), dtype=float)
                if x.size == 0 or not np.any(np.isfinite(x) & np.isfinite(y)):
                    bad.append(f"{name}: empty legend entry '{label}' (no data)")
    for leg in fig.legends:
        for t in leg.get_texts():
            if not t.get_text().strip():
                bad.append("figure legend: empty entry")
    return bad


def save_figure(fig, path, dpi: int = DPI) -> list[Path]:
    """Check ``fig`` (:func:`figure_defects`), then write ``path`` as PNG (``dpi`` >= 150) and as PDF.

    Returns the two paths written.
    """
    bad = figure_defects(fig)
    if bad:
        raise ValueError(f"figure {Path(path).name}: " + "; ".join(bad))
    if dpi < DPI:
        raise ValueError(f"figures are saved at >= {DPI} dpi, got {dpi}")
    path = Path(path).with_suffix(".png")
    fig.savefig(path, dpi=dpi)
    fig.savefig(path.with_suffix(".pdf"))
    return [path, path.with_suffix(".pdf")]
