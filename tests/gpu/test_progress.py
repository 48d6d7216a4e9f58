"""The one progress-bar rule: rank 0, terminal or notebook, SCALEFORGE_PROGRESS overrides, quiet wins."""
import sys
import types

import importlib

gp = importlib.import_module("gpu.progress")  # the module (gpu.progress the attribute is the function)


class _Comm:
    def __init__(self, rank):
        self.rank = rank


def test_env_override_and_quiet(monkeypatch):
    monkeypatch.setenv("SCALEFORGE_PROGRESS", "1")
    assert not gp.progress(range(3)).disable
    assert gp.progress(range(3), quiet=True).disable
    assert gp.progress(range(3), comm=_Comm(1)).disable
    monkeypatch.setenv("SCALEFORGE_PROGRESS", "0")
    assert gp.progress(range(3)).disable


def test_notebook_kernel_shows_bars_without_a_tty(monkeypatch):
    monkeypatch.delenv("SCALEFORGE_PROGRESS", raising=False)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    assert not gp.show_progress()

    class ZMQInteractiveShell:  # what IPython's kernel shell is called
        pass

    fake = types.ModuleType("IPython")
    fake.get_ipython = lambda: ZMQInteractiveShell()
    monkeypatch.setitem(sys.modules, "IPython", fake)
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    assert gp.show_progress()
