"""How the command line words a problem: the flag the user typed, the experiment file's field, or the flag to use.

Engine errors name the setting at fault in the experiment's words (``UserError.field``: ``batch_size``,
``optimizer_params.lr``). The command line prints them as ``error: --flag: message``. When a command runs a
saved experiment, a setting the user did not type came from the file, so its error names the file and the
field (``error: --experiment run.json: training.layers: …``). ``Source`` records which is which.

This module is the leaf of gui/cli: every command imports it, it imports none of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from engine.errors import UserError

_HINTS = {"data_dir": "pass --data-dir DIR, or --download"}  # for the data files not being found


def parse_assignments(items: list[str] | None, what: str) -> list[tuple[str, str]]:
    """Return (key, value) pairs from 'key=value' strings, or raise UserError naming the bad one."""
    pairs = []
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise UserError(f"{what} {item!r} must look like name=value")
        pairs.append((key.strip(), value.strip()))
    return pairs


def not_raced(target: str, listed: str, ids) -> str:
    """Return why ``--set TARGET.NAME=…`` is refused: TARGET is no optimizer, or not one of those raced (``ids``,
    chosen by ``listed``: "--optimizers", "--vary optimizer", …)."""
    from engine.optimizers import OPTIMIZERS

    if target not in OPTIMIZERS:
        return f"unknown optimizer '{target}'; choose from: {', '.join(OPTIMIZERS.ids())}"
    return f"{target} is not raced here: it is not in {listed} ({', '.join(ids)}); add it there or drop this --set"


def flag_for(field: str) -> str:
    """Return the command-line option that sets an engine field: ``batch_size`` -> ``--batch-size``.

    ``optimizer_params.X`` is ``--set X`` (``--lr`` for the rate), ``scheduler_params.X`` is ``--sched-set X``;
    the whole ``optimizer_params`` (a rule across several of them) is ``--set``, ``scheduler_params`` ``--sched-set``.
    """
    head, _, rest = field.partition(".")
    if head == "optimizer_params":
        return ("--lr" if rest == "lr" else f"--set {rest}") if rest else "--set"
    if head == "scheduler_params":
        return f"--sched-set {rest}" if rest else "--sched-set"
    return "--" + field.replace("_", "-")


def named(err: UserError, flag: str) -> UserError:
    """Return ``err`` marked with the words that name its culprit on the command line (``error_line`` prints them)."""
    err.flag = flag
    return err


def error_line(err: UserError) -> str:
    """Return the one line printed for ``err``: ``error: --flag: message``, plus a hint where one helps."""
    from engine.data.idx import FilesNotFound

    flag = getattr(err, "flag", None)
    if not err.field and not flag:
        return f"error: {err.message}"
    hint = _HINTS.get(err.field) if isinstance(err, FilesNotFound) else None
    return f"error: {flag or flag_for(err.field)}: {err.message}" + (f" ({hint})" if hint else "")


class Source:
    """Where a command's settings came from: flags the user typed, a section of an experiment file, or defaults.

    ``typed`` maps a field (or a field's parent: ``optimizer_params``) set on the command line to the words
    that name it (None: ``words(field)``). A field of the file's model (``fields``) that was not typed came
    from the file when there is one; anything else is named by ``words`` (for ``train``: ``flag_for``).
    ``outer`` are fields one level above ``section`` (a comparison's ``vary`` beside its ``base``).
    """

    def __init__(
        self,
        path: str | None,
        section: str,
        fields: Iterable[str],
        words: Callable[[str], str] = flag_for,
        outer: Iterable[str] = (),
    ):
        self.path, self.section, self.words = path, section, words
        self.outer = set(outer)
        self.fields = set(fields) | self.outer
        self.typed: dict[str, str | None] = {}

    def type(self, field: str, words: str | None = None) -> None:
        """Record that ``field`` was typed (named by ``words``, else by ``words(field)``); returns nothing."""
        self.typed[field] = words

    def is_typed(self, field: str) -> bool:
        """Return whether ``field`` (or one of its parents) was set on the command line."""
        parts = field.split(".")
        return any(".".join(parts[:n]) in self.typed for n in range(len(parts), 0, -1))

    def flag(self, field: str) -> str:
        """Return the words naming ``field``: the flag typed, ``--experiment FILE: section.field``, or the flag."""
        parts = field.split(".")
        for n in range(len(parts), 0, -1):
            key = ".".join(parts[:n])
            if key in self.typed:
                return self.typed[key] or self.words(field)
        if self.path is not None and parts[0] in self.fields:
            section = self.section.rpartition(".")[0] if parts[0] in self.outer else self.section
            return f"--experiment {self.path}: {section}.{field}"
        return self.words(field)

    def name(self, err: UserError) -> UserError:
        """Return ``err`` marked with the words for its field (unchanged when it has no field or is named already)."""
        if err.field and getattr(err, "flag", None) is None:
            named(err, self.flag(err.field))
        return err
