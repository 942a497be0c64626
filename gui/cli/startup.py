"""Start-up cost of a command-line process: imports without garbage collection."""

from __future__ import annotations

import gc
import sys
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def bulk_imports() -> Iterator[None]:
    """Return a context for a burst of imports: no cyclic garbage collection inside it, and what it loaded frozen
    out of later collections (``gc.freeze``).

    With torch loaded, every full collection walks its ~200,000 objects (about 0.1 s each, several per start);
    module objects live as long as the process, so they need no collecting. Nothing is frozen when the block
    loaded no new module (a command run again in the same process).
    """
    enabled = gc.isenabled()
    before = len(sys.modules)
    gc.disable()
    try:
        yield
    finally:
        if len(sys.modules) > before:
            gc.freeze()
        if enabled:
            gc.enable()
