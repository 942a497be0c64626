"""The rates a `compare` races at, from what was typed: ``--lr`` (the base optimizer's, or every optimizer's
with ``--lr-for-all``), ``--set OPT.lr`` and an experiment file's tuned rates, with the refusals and the note
that say what a typed rate applies to."""

from __future__ import annotations

import sys

from engine.errors import UserError
from engine.experiment import ComparisonSpec
from engine.optimizers import OPTIMIZERS, training_lr
from gui.cli.flags import Source, named
from gui.cli.tuning_out import check_raced


def rates_typed(args, base, vary: list, per_optimizer: dict, source: Source) -> dict:
    """Return ``per_optimizer`` with ``--lr-for-all`` applied, after refusing typed values that would do nothing
    (``--set OPT.NAME`` for an optimizer not raced, ``--lr``/``--set NAME`` for a varied field). With the
    optimizer varied, say on stderr which optimizers ``--lr`` set and which keep their own rates."""
    varied = dict(vary)
    raced = list(dict.fromkeys(varied["optimizer"])) if "optimizer" in varied else [base.optimizer]
    listed = "--vary optimizer" if "optimizer" in varied else "--optimizer"
    check_raced(per_optimizer, source, raced, listed)
    for name in varied:
        if f"optimizer_params.{name}" in source.typed:  # --lr or --set NAME, typed: the varied values win
            error = UserError(f"{name} is varied (--vary {name}), so this value would do nothing; drop it")
            raise named(error, source.flag(f"optimizer_params.{name}"))
    if args.lr_for_all and args.lr is None:
        raise named(UserError("needs --lr RATE: the rate every optimizer races at"), "--lr-for-all")
    if args.lr_for_all and args.tune:
        raise named(UserError("the tuned rates replace it (--tune-lr); drop one of the two"), "--lr-for-all")
    own_lr = per_optimizer.get(base.optimizer, {}).get("lr")
    if args.lr is not None and own_lr is not None and f"per_optimizer.{base.optimizer}.lr" not in source.typed:
        # an experiment file's (or a window's tuning's) rate for the base optimizer gives way to --lr
        per_optimizer = {
            **per_optimizer,
            base.optimizer: {**per_optimizer[base.optimizer], "lr": base.optimizer_params["lr"]},
        }
    if args.lr is None or args.tune or (len(raced) < 2 and base.optimizer in raced):
        return per_optimizer
    if args.lr_for_all:
        per = {oid: dict(values) for oid, values in per_optimizer.items()}
        for oid in raced:
            if f"per_optimizer.{oid}.lr" not in source.typed:  # --set OPT.lr, more specific, wins
                per.setdefault(oid, {})["lr"] = base.optimizer_params["lr"]
                source.type(f"per_optimizer.{oid}.lr", "--lr")
        return per
    if base.optimizer not in raced:
        raise named(
            UserError(
                f"sets the base optimizer's rate ({base.optimizer}, --optimizer), which is not raced here; "
                "add --lr-for-all to race every optimizer at it, or set one with --set OPT.lr=RATE"
            ),
            "--lr",
        )
    own = [
        f"{oid} {per_optimizer.get(oid, {}).get('lr', training_lr(oid)):g}" for oid in raced if oid != base.optimizer
    ]
    print(
        f"note: --lr {base.optimizer_params['lr']:g} applies to {base.optimizer} (the base optimizer); "
        f"the others keep their own rates ({', '.join(own)}): add --lr-for-all to race them all at it, "
        "or --set OPT.lr=RATE to set one",
        file=sys.stderr,
    )
    return per_optimizer


def file_tuned_rates(spec: ComparisonSpec | None, base, source: Source) -> list[tuple[dict, float]]:
    """Return the experiment file's rates tuned per configuration, less those of an optimizer whose rate was
    typed now (``--set OPT.lr``, or ``--lr`` for the base's): what the user types wins over the file."""
    typed = {oid for oid in OPTIMIZERS.ids() if f"per_optimizer.{oid}.lr" in source.typed}
    typed |= {base.optimizer} if "optimizer_params.lr" in source.typed else set()
    entries = spec.tuned_lr if spec is not None else []
    return [(dict(t["when"]), t["lr"]) for t in entries if t["when"].get("optimizer") not in typed]
