"""Compiling a kernel module's functions in place with numba, once per process, on first use.

A kernel module keeps its functions as plain Python (readable, and importable where numba is not) and
names them callees first: numba reads a callee as the module global it finds when it compiles the caller,
so each name is replaced by its compiled dispatcher before the functions that call it are compiled. Two
jobs that start at once must not wrap a function twice (numba refuses to jit a dispatcher, and the second
job failed with a TypeError): a lock guards the replacement, and a function already compiled (one kernel
module using another's) is kept as it is.
"""

from __future__ import annotations

import threading

_lock = threading.Lock()


def jit_in_place(namespace: dict, callees: tuple[str, ...], entries: tuple[str, ...], **options) -> tuple:
    """Return the compiled ``entries`` of the module whose globals are ``namespace``.

    On the first call numba is imported and ``callees``, then ``entries``, are replaced in ``namespace`` by
    ``numba.njit(**options)`` of themselves; the entries also release the GIL (``nogil``), so that other
    threads (the window's, a kernel's helpers) run while they compute.
    """
    with _lock:
        from numba import njit

        for names, extra in ((callees, {}), (entries, {"nogil": True})):
            for name in names:
                if not hasattr(namespace[name], "py_func"):  # not compiled yet
                    namespace[name] = njit(**options, **extra)(namespace[name])
    return tuple(namespace[name] for name in entries)
