"""Rows of a reproduced table computed by two processes at once (``symkernel tables`` on 2 cores).

:func:`forked_map` is ``[fn(item) for item in items]`` with the work shared between this process
and one forked child: each takes the next undone item from a shared counter (dynamic balance: a
slow row does not hold up the rest) and the child sends its results back pickled.  The results
are the same objects ``fn`` returns in series (a Quantity pickles with the values computed so
far).  A ``fn`` that raises in the child raises the same exception here; a child that dies
without a word, or a result that does not pickle, leaves its items to this process; an interrupt
(Ctrl-C) stops the child too.
Without ``fork`` (Windows, macOS' default), or with ``workers=1``, it runs in series.

>>> forked_map(abs, [-3, 1, -2], workers=2)
[3, 1, 2]
"""
import multiprocessing
import pickle
import signal

from symkernel.errors import InvalidInputError, SymkernelError

#: how long (seconds) the child is given to stop before it is killed
_STOP_WAIT = 5


def _fork_context():
    try:
        return multiprocessing.get_context("fork")
    except ValueError:      # pragma: no cover - no fork on this platform
        return None


def _claim(counter, order):
    """The next undone index in ``order`` (shared by both processes), or None when all are taken."""
    with counter.get_lock():
        j = counter.value
        if j >= len(order):
            return None
        counter.value = j + 1
        return order[j]


def _portable_exception(exc):
    """``exc`` when it survives a pickle round trip, else a SymkernelError with its message."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:       # noqa: BLE001 - an exception class that cannot be rebuilt
        return SymkernelError(f"{type(exc).__name__}: {exc}")


def _child(fn, items, order, counter, conn):
    """Work loop of the forked child: ``("row", i, result)`` per item, ``("redo", i)`` for a
    result that does not pickle (this process computes it again), then ``("done",)``; an
    exception is sent as ``("error", i, exc)`` and ends the loop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)     # the parent handles Ctrl-C and stops us
    try:
        while (i := _claim(counter, order)) is not None:
            try:
                result = fn(items[i])
            except BaseException as exc:     # noqa: BLE001 - sent to the parent, raised there
                conn.send_bytes(pickle.dumps(("error", i, _portable_exception(exc))))
                return
            try:
                message = pickle.dumps(("row", i, result))
            except Exception:                # noqa: BLE001 - e.g. a closure: redone there
                message = pickle.dumps(("redo", i))
            conn.send_bytes(message)
        conn.send_bytes(pickle.dumps(("done",)))
    finally:
        conn.close()


def forked_map(fn, items, workers=2, on_result=None, order=None):
    """``[fn(item) for item in items]``, shared with one forked child when ``workers >= 2``.

    ``on_result(i, result)`` is called in this process as each result arrives (a progress bar);
    ``order``: the indices in the order they are taken (the slowest first balances best; default
    the items' order).  The results are always in the items' order.
    """
    items = list(items)
    order = list(range(len(items))) if order is None else list(order)
    if sorted(order) != list(range(len(items))):
        raise InvalidInputError(f"order must be a permutation of 0..{len(items) - 1}, got {order}")
    ctx = _fork_context()
    if workers < 2 or len(items) < 2 or ctx is None:
        out = []
        for i, item in enumerate(items):
            out.append(fn(item))
            if on_result is not None:
                on_result(i, out[-1])
        return out
    counter = ctx.Value("i", 0)
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child, args=(fn, items, order, counter, send), daemon=True)
    child.start()
    send.close()
    results, done = {}, False
    try:
        while (i := _claim(counter, order)) is not None:
            results[i] = fn(items[i])
            if on_result is not None:
                on_result(i, results[i])
            done = _drain(receive, results, on_result, block=False) or done
        while not done:
            done = _drain(receive, results, on_result, block=True)
    finally:
        receive.close()
        if child.is_alive():
            child.terminate()
        child.join(_STOP_WAIT)
    for i in range(len(items)):     # items the child took and did not send (it died; no pickle)
        if i not in results:
            results[i] = fn(items[i])
            if on_result is not None:
                on_result(i, results[i])
    return [results[i] for i in range(len(items))]


def _drain(conn, results, on_result, block):
    """Read the child's messages into ``results``; True once it is done (or gone)."""
    while block or conn.poll():
        try:
            message = pickle.loads(conn.recv_bytes())
        except (EOFError, OSError):      # the child is gone: its items are redone here
            return True
        if message[0] == "done":
            return True
        if message[0] == "error":
            raise message[2]
        if message[0] == "redo":
            continue
        _, i, result = message
        results[i] = result
        if on_result is not None:
            on_result(i, result)
    return False


__all__ = ["forked_map"]
