"""Every example figure goes through examples/_figures.save_figure: PNG at >= 150 dpi plus PDF, and
refused when an axes with data lacks an x or y label, a legend has an empty entry or tick labels
overlap. The examples' own quick-mode tests (tests/examples/test_*.py) therefore check every figure
they make; here: the scripts all use the helper, and the helper catches each defect."""
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from examples._figures import DPI, figure_defects, save_figure  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SCRIPTS = sorted(p for p in EXAMPLES.glob("*.py") if not p.name.startswith("_") and p.name != "run_all.py")


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_every_example_saves_its_figures_through_save_figure(script):
    text = script.read_text()
    assert "from examples._figures import save_figure" in text, script.name
    assert re.search(r"save_figure\(", text.split("from examples._figures import save_figure", 1)[1])
    assert ".savefig(" not in text, f"{script.name} saves a figure without the checks (use save_figure)"


def _good():
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3], [1, 4, 9], label="data")
    ax.set(xlabel="x [m]", ylabel="y [s]")
    ax.legend()
    return fig, ax


def test_save_figure_writes_png_at_150_dpi_and_pdf(tmp_path):
    from PIL import Image

    fig, _ = _good()
    png, pdf = save_figure(fig, tmp_path / "f.png")
    plt.close(fig)
    assert png.read_bytes()[:4] == b"\x89PNG" and pdf.read_bytes()[:4] == b"%PDF"
    w, h = Image.open(png).size
    assert (w, h) == (round(fig.get_figwidth() * DPI), round(fig.get_figheight() * DPI)) and DPI >= 150


@pytest.mark.parametrize("defect,match", [("xlabel", "no x label"), ("ylabel", "no y label"),
                                          ("legend", "empty legend entry"), ("nodata", "no data"),
                                          ("ticks", "overlapping x tick")])
def test_each_defect_is_refused(defect, match, tmp_path):
    fig, ax = _good()
    if defect == "xlabel":
        ax.set_xlabel("")
    elif defect == "ylabel":
        ax.set_ylabel("")
    elif defect == "legend":
        ax.plot([1, 2], [2, 3], label=" ")
        ax.legend()
    elif defect == "nodata":
        ax.plot([], [], "o", label="a sample with no points")
        ax.plot([1.0, 2.0], [np.nan, np.nan], label="all NaN")
        ax.legend()
    else:
        ax.set_xticks(np.linspace(1, 3, 40), [f"tick {i}" for i in range(40)])
    assert any(match in d for d in figure_defects(fig))
    with pytest.raises(ValueError, match=match):
        save_figure(fig, tmp_path / "f.png")
    plt.close(fig)
    assert not list(tmp_path.iterdir())  # nothing written


def test_shared_y_axis_may_carry_one_label():
    fig, ax = plt.subplots(1, 2, sharey=True)
    for a in ax:
        a.plot([1, 2], [1, 2])
        a.set_xlabel("x")
    ax[0].set_ylabel("y")
    assert figure_defects(fig) == []
    plt.close(fig)


def test_colorbar_needs_its_label_only():
    fig, ax = plt.subplots()
    im = ax.imshow(np.arange(4.0).reshape(2, 2))
    ax.set(xlabel="x", ylabel="y")
    cb = fig.colorbar(im, ax=ax)
    assert any("colorbar without a label" in d for d in figure_defects(fig))
    cb.set_label("T [K]")
    assert figure_defects(fig) == []
    plt.close(fig)
