"""Progress bars (issue 11.5): one helper, on where someone can see it, silent under pytest."""
import io

import numpy as np

import symkernel as sk
from symkernel.core import progress as prog


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_off_when_stderr_is_not_a_terminal(monkeypatch, capsys):
    monkeypatch.delenv("SYMKERNEL_PROGRESS", raising=False)
    assert prog.visible() is False                       # pytest captures stderr: not a TTY
    it = range(5)
    assert prog.progress(it, desc="x") is it              # the iterable itself, no wrapper
    from symkernel.coefficients.strength import strength_against_gain
    d = strength_against_gain(("relu",), gains=[0.5, 1.0])        # progress=None: automatic
    assert d["relu"]["method"] == "exact"
    assert capsys.readouterr().err == ""


def test_on_for_a_terminal_and_the_environment_override(monkeypatch):
    term = _Terminal()
    monkeypatch.setattr(prog.sys, "stderr", term)
    monkeypatch.delenv("SYMKERNEL_PROGRESS", raising=False)
    assert prog.visible() is True
    monkeypatch.setenv("SYMKERNEL_PROGRESS", "0")
    assert prog.visible() is False
    assert prog.visible(True) is True                     # an explicit request wins
    monkeypatch.setenv("SYMKERNEL_PROGRESS", "1")
    monkeypatch.setattr(prog.sys, "stderr", io.StringIO())
    assert prog.visible() is True
    assert prog.visible(False) is False


def test_a_bar_draws_on_the_terminal_when_asked(monkeypatch):
    term = _Terminal()
    monkeypatch.setattr(prog.sys, "stderr", term)
    assert list(prog.progress(range(4), desc="grid", enabled=True)) == [0, 1, 2, 3]
    assert "grid" in term.getvalue() and "/4" in term.getvalue()
    bar = prog.progress_bar(3, desc="layers", enabled=True)
    bar.update(3)
    bar.close()
    assert "layers" in term.getvalue()


def test_disabled_bar_is_a_silent_stand_in(capsys):
    with prog.progress_bar(10, desc="layers", enabled=False) as bar:
        bar.update(4)
        bar.set_postfix_str("x")
    assert capsys.readouterr().err == ""


def test_long_functions_accept_progress(monkeypatch):
    """critical_curve and strength_against_gain draw their bar on a terminal when asked."""
    term = _Terminal()
    monkeypatch.setattr(prog.sys, "stderr", term)
    w1, _ = sk.critical_curve("erf", [0.0, 0.05, 0.1], progress=True)
    assert "critical curve" in term.getvalue()
    w2, _ = sk.critical_curve("erf", [0.0, 0.05, 0.1], progress=False)
    assert np.array_equal(w1, w2)                         # the bar changes nothing computed
    from symkernel.coefficients.strength import strength_against_gain
    strength_against_gain(("relu",), gains=[0.5, 1.0], progress=True)
    assert "beta against gain" in term.getvalue()
