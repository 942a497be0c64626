"""Random command lines: whatever the user types, `main.py surface|train|compare` exits 0 or 2, never 1, never a
traceback; on 2, stderr is one line that starts with 'error: '.

The flags come from the real argparse parsers; values are numbers in and out of range, negative, huge, NaN,
empty, junk text, unicode (undecodable bytes too), with flags repeated or missing their value. Work stays
small so that the legitimate runs finish fast: flags that set the amount of work (epochs, points, steps,
grid, layers, seeds, varied values) draw only cheap valid values or invalid ones, and the cheap defaults
(--epochs 1 --points 20; --steps 3 --grid 20) are added when the example does not set them. Every run
happens in a fresh temporary folder, the current folder too, so relative output paths land there.
"""

import argparse
import contextlib
import io
import os
import tempfile
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.optimizers import OPTIMIZERS
from engine.schedulers import SCHEDULERS
from engine.surface.functions import surface_ids
from engine.training.config import LOSSES
from engine.training.model import ACTIVATIONS, INITS, OUTPUT_ACTIVATIONS
from gui.cli import build_parser
from main import main

COMMANDS = ("surface", "train", "compare")
NOT_FUZZED = {"--help", "--download"}  # --download would reach the network
CHEAP = {
    "train": {"--epochs": "1", "--points": "20"},
    "compare": {"--epochs": "1", "--points": "20"},
    "surface": {"--steps": "3", "--grid": "20"},
}
CASE_SECONDS = 2.0  # what one case may take (checked with a margin for a busy machine: MARGIN)
MARGIN = 3.0


def parser_flags(command: str) -> dict[str, bool]:
    """Return {flag: takes a value} for every long option of ``command``'s real parser."""
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    flags = {}
    for action in sub._actions:
        for option in action.option_strings:
            if option.startswith("--") and option not in NOT_FUZZED:
                flags[option] = action.nargs != 0
    return flags


FLAGS = {command: parser_flags(command) for command in COMMANDS}

numbers = st.one_of(
    st.integers(-(10**12), 10**12).map(str),
    st.integers(-3, 60).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(-2, 2).map(lambda v: f"{v:.3g}"),
    st.sampled_from(["nan", "NaN", "inf", "-inf", "1e309", "-0", "0", "1e-320", "0x10", "1_000", "١٢", "full"]),
)
junk = st.one_of(
    st.text(max_size=10),
    st.sampled_from(["", " ", ",", "=", "a=b", "\t", "é", "日本", "\udcff", "x\x00y", "-", "--", "None", "[]", "{}"]),
)
any_value = st.one_of(numbers, junk)
ids = st.sampled_from(
    [*OPTIMIZERS.ids(), *SCHEDULERS.ids(), *surface_ids(), "spiral", "iris", "breast-cancer", "digits", "mnist"]
)
small_int = st.integers(-2, 40).map(str)


def int_list(low: int, high: int, max_size: int = 4):
    return st.lists(st.integers(low, high).map(str), min_size=0, max_size=max_size).map(",".join)


# values per flag: the work-setting ones are cheap-or-invalid; the others anything, plus meaningful choices
VALUES = {
    "--epochs": st.one_of(small_int.filter(lambda v: int(v) <= 3), junk, st.sampled_from(["0", "-1", "100001", "1e3"])),
    "--points": st.one_of(st.integers(-2, 40).map(str), junk, st.sampled_from(["1", "100001", "nan"])),
    "--classes": st.one_of(st.integers(-1, 12).map(str), junk),
    "--steps": st.one_of(st.integers(-2, 30).map(str), junk, st.sampled_from(["100001", "1e9"])),
    "--grid": st.one_of(st.integers(15, 40).map(str), junk, st.sampled_from(["19", "2001", "-20", "1e3"])),
    "--layers": st.one_of(
        int_list(1, 12),
        junk,
        st.sampled_from(["2,100000,100000,3", "2,0,3", "2,100001,3", "2,-5,3", "2", "2,,3", "2, 8 ,3", "2.5,3"]),
    ),
    "--seeds": st.one_of(int_list(-2, 5, 2), junk, st.sampled_from(["1,1", "99999999999", "1,2"])),
    "--vary": st.one_of(
        st.builds(
            lambda field, values: f"{field}={','.join(values)}",
            st.sampled_from(
                ["lr", "momentum", "optimizer", "scheduler", "batch_size", "activation", "seed", "epochs", "l2", "x"]
            ),
            st.lists(
                st.one_of(st.sampled_from(["0", "0.1", "1", "2", "-1", "nan", "adam", "relu", "step"]), junk),
                max_size=3,
            ),
        ),
        junk,
    ),
    "--set": st.one_of(
        st.builds(
            lambda k, v: f"{k}={v}",
            st.sampled_from(["lr", "momentum", "beta1", "eps", "nesterov", "adam.lr", "sgd.momentum", "zz.lr"]),
            any_value,
        ),
        junk,
    ),
    "--sched-set": st.one_of(
        st.builds(lambda k, v: f"{k}={v}", st.sampled_from(["step_size", "gamma", "max_lr", "T_0", "q"]), any_value),
        junk,
    ),
    "--start": st.one_of(st.builds(lambda a, b: f"{a},{b}", numbers, numbers), numbers, junk),
    "--function": st.one_of(
        st.sampled_from(surface_ids()),
        st.sampled_from(["x**2+y**2", "sin(x)*y", "x*sin(x**2)", "exp(x**9)", "x/0", "y", "1", "x**y**x", "__x"]),
        junk,
    ),
    "--optimizers": st.one_of(st.lists(st.sampled_from(OPTIMIZERS.ids()), max_size=4).map(",".join), junk),
    "--dataset": st.one_of(ids, st.sampled_from(["csv:afile", "csv:", "csv:missing.csv", "csv:table.csv"]), junk),
    "--target": st.sampled_from(["label", "y", "", "x1", "nope"]),
    "--optimizer": st.one_of(st.sampled_from(OPTIMIZERS.ids()), junk),
    "--scheduler": st.one_of(st.sampled_from(SCHEDULERS.ids()), junk),
    "--activation": st.one_of(st.sampled_from([*ACTIVATIONS, "RELU"]), junk),
    "--output-activation": st.one_of(st.sampled_from(OUTPUT_ACTIVATIONS), junk),
    "--loss": st.one_of(st.sampled_from(LOSSES), junk),
    "--init": st.one_of(st.sampled_from(INITS), junk),
    "--device": st.sampled_from(["auto", "cpu", "cuda", "tpu", "", "CPU"]),
    "--batch-size": st.one_of(st.sampled_from(["full", "FULL", "0", "1", "7", "20", "-3", "1e2", "60"]), numbers),
}
PATH_FLAGS = ("--out", "--save-weights", "--init-weights", "--experiment", "--data-dir")
paths = st.one_of(
    st.sampled_from(["", " ", "out", "out/sub", "afile", "afile/x", ".", "weights.json", "a" * 300]),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/"), max_size=12),
)


@st.composite
def command_lines(draw):
    """Return (command, argv) for one random command line."""
    command = draw(st.sampled_from(COMMANDS))
    flags = FLAGS[command]
    argv = [command]
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(["flag"] * 10 + ["missing", "junk"]))
        flag = draw(st.sampled_from(sorted(flags)))
        if kind == "junk":
            argv.append(draw(st.one_of(junk, st.sampled_from(["--bogus", "-x", "--epochs=", "--lr=-1", "surface"]))))
        elif kind == "missing" and flags[flag]:
            argv.append(flag)  # followed by another flag or the end: argparse's "expected one argument"
        elif not flags[flag]:
            argv.append(flag)
        elif flag in PATH_FLAGS:
            argv += [flag, draw(paths)]
        else:
            argv += [flag, draw(VALUES.get(flag, st.one_of(any_value, ids)))]
    for flag, value in CHEAP[command].items():
        if flag not in argv and flag in flags:
            argv += [flag, value]
    if command == "compare" and "--vary" not in argv and draw(st.booleans()):
        argv += ["--vary", "lr=0.1,0.2"]
    if "--out" not in argv:
        argv += ["--out", "out"]
    return command, argv


@contextlib.contextmanager
def in_folder(folder):
    """Return a context with ``folder`` as the current folder (contextlib.chdir is Python 3.11+)."""
    before = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


@pytest.fixture(scope="module", autouse=True)
def warm():
    """Pay the one-off costs (imports, Qt, scikit-learn) before the timed cases."""
    with tempfile.TemporaryDirectory() as folder, in_folder(folder):
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            assert main(["train", "--dataset", "iris", "--epochs", "1", "--out", "w"]) == 0
            assert main(["surface", "--steps", "2", "--grid", "20", "--out", "s"]) == 0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(command_lines())
def test_random_command_lines_exit_0_or_2_with_one_error_line(case):
    command, argv = case
    with tempfile.TemporaryDirectory() as folder, in_folder(folder):
        with open("afile", "w") as fh:
            fh.write("not json, not csv\n")
        with open("table.csv", "w") as fh:  # a small CSV data set: 2 features, a class label, a numeric y
            fh.write("x1,x2,label,y\n" + "".join(f"{i % 7},{i % 5},{i % 2},{i / 3}\n" for i in range(30)))
        err, out = io.StringIO(), io.StringIO()
        started = time.perf_counter()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            code = main(list(argv))
        took = time.perf_counter() - started
    text = err.getvalue()
    assert code in (0, 2), (argv, code, text)
    assert "Traceback" not in text and "internal error" not in text, (argv, text)
    if code == 2:
        lines = text.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (argv, text)
    assert took < CASE_SECONDS * MARGIN, (argv, took)


TINY = ["--epochs", "1", "--points", "20", "--out", "o"]


@pytest.mark.parametrize(
    "argv, start",
    [
        (["train", "--epochs", "1", "--points", "20", "--out", ""], "error: --out: the output folder name is empty"),
        (["train", "--layers", "2,100000,100000,3", *TINY], "error: --layers: this network needs about "),
        (["compare", "--vary", "lr=nan,0.1", *TINY], "error: --vary lr: "),
        (["surface", "--steps", "3", "--grid", "20", "--out", "a" * 300], "error: --out: the name 'aaaa"),
        # batch norm on a one-row batch was an internal error (exit 1) in the middle of training
        (["train", "--batchnorm", "--batch-size", "1", *TINY], "error: --batch-size: batch norm needs at least 2 rows"),
        (
            [
                "train",
                "--batchnorm",
                "--classes",
                "3",
                "--points",
                "7",
                "--batch-size",
                "20",
                "--epochs",
                "1",
                "--out",
                "o",
            ],
            "error: --batch-size: batch norm needs at least 2 rows per batch: 21 training rows in batches of 20",
        ),
        (["compare", "--batchnorm", "--vary", "batch_size=1,full", *TINY], "error: --vary batch_size: batch norm"),
        # layers that do not fit the data were reported after the data summary line (two lines on stderr)
        (["compare", "--layers", "2,8,2", "--vary", "lr=0.1,0.01", *TINY], "error: --layers: the last layer has 2"),
        (
            ["compare", "--layers", "64,10", "--seed", "0", "--seeds", "1,2", "--vary", "lr=0.1,0.2", *TINY],
            "error: --layers: the first layer has 64 inputs",
        ),
        # a rule across the optimizer's parameters named a flag that does not exist (--optimizer-params)
        (["train", "--set", "nesterov=true", *TINY], "error: --set: sgd: nesterov needs momentum > 0"),
        (["train", "--init-weights", "", *TINY], "error: --init-weights: the file name is empty"),
        (["surface", "--experiment", " ", "--out", "o"], "error: --experiment: the file name is empty"),
        (["train", "--save-weights", "o", *TINY[:-2], "--out", "p"], None),  # ok: a file named o
    ],
)
def test_fuzz_findings_stay_fixed(argv, start):
    """Command lines the fuzzing or the brief found: each ends in one error line (exit 2) that starts so."""
    with tempfile.TemporaryDirectory() as folder, in_folder(folder):
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(argv)
    lines = err.getvalue().splitlines()
    if start is None:
        assert code == 0, lines
        return
    assert code == 2 and len(lines) == 1 and lines[0].startswith(start), lines
