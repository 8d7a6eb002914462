"""Progress bars for long work (grids, sweeps, tables, simulations): one helper for the package.

``progress(iterable, desc=..., enabled=None)`` wraps an iterable in a tqdm bar;
``progress_bar(total, desc=..., enabled=None)`` is a bar to ``update(n)`` and ``close()`` by hand.
``enabled``: ``True`` (always), ``False`` (never), ``None`` (the default: on when someone can see
it, i.e. standard error is a terminal or the code runs in a Jupyter kernel; the environment
variable ``SYMKERNEL_PROGRESS=0``/``1`` overrides the guess).  Under pytest, in doctests, in pipes
and in CI logs standard error is not a terminal, so nothing is written.  A guessed bar appears
only after :data:`DELAY` seconds, so quick loops never flicker; one asked for is drawn at once.  In Jupyter the widget bar is used when
ipywidgets is installed, the text bar otherwise (tqdm is imported only when a bar is shown).

>>> list(progress(range(3), desc="grid", enabled=False))
[0, 1, 2]
>>> bar = progress_bar(10, enabled=False); bar.update(3); bar.close()
"""
import os
import sys

#: seconds before a bar is drawn (tqdm's ``delay``): work shorter than this shows nothing
DELAY = 1.0


def _in_jupyter():
    """True inside a Jupyter (IPython kernel) session, without importing IPython."""
    ipython = sys.modules.get("IPython")
    if ipython is None or "ipykernel" not in sys.modules:
        return False
    try:
        shell = ipython.get_ipython()
    except AttributeError:          # pragma: no cover - an unusual IPython
        return False
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def visible(enabled=None):
    """Whether a bar is shown: ``enabled`` when it is a bool, else the environment's guess."""
    if enabled is not None:
        return bool(enabled)
    env = os.environ.get("SYMKERNEL_PROGRESS", "").strip().lower()
    if env in ("0", "false", "no", "off"):
        return False
    if env in ("1", "true", "yes", "on"):
        return True
    if _in_jupyter():
        return True
    stream = sys.stderr
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):   # a closed or unusual stream
        return False


def _tqdm_class():
    """tqdm's notebook bar in Jupyter when ipywidgets is there, else the terminal bar."""
    if _in_jupyter():
        try:
            import ipywidgets  # noqa: F401  (the notebook bar needs it)
            from tqdm.notebook import tqdm
            return tqdm
        except ImportError:
            pass
    from tqdm.std import tqdm
    return tqdm


class _NoBar:
    """What :func:`progress_bar` returns when no bar is shown: update/close/set_postfix do nothing."""

    def update(self, n=1):
        return None

    def set_postfix_str(self, s=""):
        return None

    def close(self):
        return None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def progress(iterable, desc=None, total=None, enabled=None, leave=False):
    """``iterable`` itself, or wrapped in a tqdm bar when :func:`visible` (``enabled``) says so
    (drawn at once when ``enabled=True``, after :data:`DELAY` seconds when guessed)."""
    if not visible(enabled):
        return iterable
    return _tqdm_class()(iterable, desc=desc, total=total, leave=leave,
                         delay=0 if enabled else DELAY, file=sys.stderr, dynamic_ncols=True)


def progress_bar(total, desc=None, enabled=None, leave=False):
    """A bar of ``total`` steps to ``update(n)`` and ``close()`` (also a context manager); a
    do-nothing stand-in when no bar is shown."""
    if not visible(enabled):
        return _NoBar()
    return _tqdm_class()(total=total, desc=desc, leave=leave, delay=0 if enabled else DELAY,
                         file=sys.stderr, dynamic_ncols=True)


__all__ = ["progress", "progress_bar", "visible", "DELAY"]
