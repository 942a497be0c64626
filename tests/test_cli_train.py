import csv
import json

import pytest
from PySide6 import QtGui

from main import main


def test_train_writes_history_weights_and_charts(tmp_path, capsys):
    out = tmp_path / "o"
    code = main(
        [
            "train",
            "--dataset",
            "spiral",
            "--points",
            "100",
            "--layers",
            "2,50,3",
            "--optimizer",
            "sgd",
            "--lr",
            "0.1",
            "--set",
            "momentum=0.5",
            "--epochs",
            "5",
            "--batch-size",
            "20",
            "--seed",
            "1",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    rows = list(csv.DictReader(open(out / "history.csv")))
    assert list(rows[0]) == ["epoch", "train_loss", "test_loss", "train_acc", "test_acc", "lr", "grad_norm", "seconds"]
    assert [int(r["epoch"]) for r in rows] == list(range(6)) and rows[0]["test_loss"] == ""
    assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])
    data = json.loads((out / "history.json").read_text())
    assert data["config"]["optimizer_params"]["momentum"] == 0.5 and len(data["history"]) == 6
    weights = json.loads((out / "weights.json").read_text())
    assert len(weights["layers"]) == 2 and len(weights["layers"][0]["weight"]) == 50
    for name in ("loss.png", "accuracy.png", "lr.png", "decision.png"):
        assert QtGui.QImage(str(out / name)).width() > 500, name
    assert not (out / "confusion.png").exists()
    assert "5 epochs" in capsys.readouterr().out


def test_train_round_trips_weights(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert (
        main(["train", "--points", "50", "--epochs", "3", "--out", str(a), "--save-weights", str(tmp_path / "w.json")])
        == 0
    )
    assert not (a / "weights.json").exists()
    assert (
        main(["train", "--points", "50", "--epochs", "1", "--init-weights", str(tmp_path / "w.json"), "--out", str(b)])
        == 0
    )
    last = json.loads((a / "history.json").read_text())["history"][-1]["train_loss"]
    first = json.loads((b / "history.json").read_text())["history"][0]["train_loss"]
    assert first == pytest.approx(last, rel=1e-5)


def test_train_image_set_writes_confusion(tmp_path, mnist_dir):
    out = tmp_path / "m"
    assert (
        main(
            [
                "train",
                "--dataset",
                "mnist",
                "--data-dir",
                str(mnist_dir),
                "--layers",
                "784,40,10",
                "--optimizer",
                "adam",
                "--lr",
                "0.001",
                "--batch-size",
                "100",
                "--epochs",
                "1",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert QtGui.QImage(str(out / "confusion.png")).width() > 500
    per = list(csv.DictReader(open(out / "per_class_accuracy.csv")))
    assert len(per) == 10 and all(0 <= float(r["accuracy"]) <= 1 for r in per)


def test_compare_momentum_and_grid(tmp_path):
    out = tmp_path / "c"
    assert (
        main(
            [
                "compare",
                "--points",
                "100",
                "--epochs",
                "4",
                "--vary",
                "momentum=0,0.5",
                "--vary",
                "lr=0.1,0.01",
                "--seeds",
                "1,2",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    runs = list(csv.DictReader(open(out / "runs.csv")))
    assert len(runs) == 4 * 2 * 5 and {"momentum", "lr", "seed"} <= set(runs[0])
    epoch0 = {r["train_loss"] for r in runs if r["epoch"] == "0" and r["seed"] == "1"}
    assert len(epoch0) == 1  # same seed: identical initial weights in every run
    summary = list(csv.DictReader(open(out / "summary.csv")))
    assert len(summary) == 4 and summary[0]["seeds"] == "2" and "(batched)" in summary[0]["path"]
    for name in ("compare_loss.png", "compare_accuracy.png", "compare_lr.png", "grid.png"):
        assert QtGui.QImage(str(out / name)).width() > 500, name


def test_compare_schedulers_and_optimizers(tmp_path):
    out = tmp_path / "s"
    assert (
        main(
            [
                "compare",
                "--points",
                "60",
                "--epochs",
                "3",
                "--vary",
                "scheduler=none,step,cyclic,onecycle,cosine-restarts",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    lrs = {}
    for r in csv.DictReader(open(out / "runs.csv")):
        lrs.setdefault(r["scheduler"], []).append(float(r["epoch_lr"]))  # the epoch's rate; "lr" is the run's
    assert len(set(lrs["none"])) == 1 and lrs["cyclic"] != lrs["none"]
    assert (
        main(
            [
                "compare",
                "--points",
                "60",
                "--epochs",
                "2",
                "--vary",
                "optimizer=sgd,adam,adagrad",
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 0
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--dataset", "nope"], "error: --dataset: unknown data set"),
        (["train", "--layers", "3,10,3"], "error: --layers: the first layer has 3 inputs"),
        (["train", "--layers", "2,x,3"], "error: --layers: must be whole numbers"),
        (["train", "--optimizer", "adamm"], "unknown optimizer"),
        (["train", "--set", "momentum=abc"], "momentum"),
        (["train", "--epochs", "0"], "error: --epochs: must be 1–100000, not 0"),
        (["train", "--batch-size", "-5"], "batch-size"),
        (["train", "--device", "tpu"], "error: --device: must be auto, cpu or cuda"),
        (["train", "--dropout", "2"], "error: --dropout: must be in [0, 0.99]"),
        (["train", "--test-fraction", "1.5"], "error: --test-fraction: must be in [0, 1)"),
        (["train", "--points", "1"], "error: --points: the spiral needs"),
        (
            ["train", "--dataset", "mnist", "--data-dir", "/nonexistent"],
            "error: --data-dir: mnist IDX files not found (looked in /nonexistent) (pass --data-dir DIR, or --download",
        ),
        (["train", "--init-weights", "/nonexistent.json"], "error: --init-weights: weights file /nonexistent.json not"),
        (["compare"], "--vary"),
        (["compare", "--vary", "momentum"], "error: --vary: 'momentum' must look like field=value1,value2"),
        (["compare", "--vary", "colour=red,blue"], "colour"),
        (["compare", "--vary", "momentum=0,2"], "out of range"),
        (["compare", "--vary", "lr=0.1", "--seeds", "a"], "error: --seeds: must be whole numbers"),
    ],
)
def test_bad_input_is_one_line(tmp_path, capsys, args, message):
    out = tmp_path / "x"
    assert (
        main(
            [
                *args,
                "--epochs" if "--epochs" not in args else "--seed",
                "2" if "--epochs" not in args else "1",
                "--out",
                str(out),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "Traceback" not in err[0]
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize(
    "field, flag",
    [
        ("layers", "--layers"),
        ("data_dir", "--data-dir"),
        ("batch_size", "--batch-size"),
        ("test_fraction", "--test-fraction"),
        ("optimizer_params.lr", "--lr"),
        ("optimizer_params.momentum", "--set momentum"),
        ("scheduler_params.step_size", "--sched-set step_size"),
    ],
)
def test_engine_fields_are_printed_as_flags(field, flag):
    from engine.errors import UserError
    from gui.cli import error_line, flag_for

    assert flag_for(field) == flag
    assert error_line(UserError("is wrong", field)) == f"error: {flag}: is wrong"
    assert error_line(UserError("plain")) == "error: plain"


def test_an_optimizer_race_png_uses_each_optimizers_own_colour(tmp_path):
    """compare_loss.png draws Adam in Adam's registry colour, as the window and the surface map do."""
    from engine.optimizers import optimizer_colour

    out = tmp_path / "race"
    assert main(["compare", "--points", "60", "--epochs", "3", "--vary", "optimizer=sgd,adam", "--out", str(out)]) == 0
    image = QtGui.QImage(str(out / "compare_loss.png"))
    seen = {image.pixelColor(x, y).name() for x in range(0, image.width(), 2) for y in range(0, image.height(), 2)}
    assert optimizer_colour("adam") in seen and optimizer_colour("sgd") in seen
    assert "#ff7f0e" not in seen  # the palette's second colour, which index-based colouring would have given adam


# -- estimates, output paths and atomic writes ----------------------------------------------------------------------
GB = 10**9


@pytest.fixture
def machine_24gb(monkeypatch):
    """The estimate judges against a 24 GB machine with 24 GB free, wherever the tests run."""
    import engine.training.estimate as estimate

    monkeypatch.setattr(estimate, "available_memory", lambda device="cpu": (24 * GB, 24 * GB))


def _no_training(monkeypatch):
    """Make any training fail the test: the checks must come before it."""
    import gui.cli.train as cli_train
    from engine.training import trainer

    def refuse(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(cli_train, "_train", refuse)
    monkeypatch.setattr(trainer.RunGroup, "__init__", refuse)


def one_error_line(capsys) -> str:
    """Return stderr's error line: the last line, the only one that is an error (a data summary may come first)."""
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if line.startswith("error")]
    assert errors == err[-1:] and "internal error" not in errors[0] and "Traceback" not in errors[0], err
    return errors[0]


def test_a_network_too_big_for_memory_is_refused_before_any_allocation(tmp_path, capsys, monkeypatch, machine_24gb):
    _no_training(monkeypatch)
    out = tmp_path / "big"
    assert main(["train", "--layers", "2,100000,100000,3", "--epochs", "1", "--out", str(out)]) == 2
    line = one_error_line(capsys)
    assert line.startswith("error: --layers: this network needs about ")
    assert "10,000,700,003 weights × 4 bytes (float32)" in line and line.endswith("this machine has 24 GB")
    assert not out.exists()


def test_a_comparison_too_big_is_refused_naming_its_runs(tmp_path, capsys, monkeypatch, machine_24gb):
    _no_training(monkeypatch)
    args = ["compare", "--layers", "2,100000,100000,3", "--vary", "lr=0.1,0.2", "--epochs", "1"]
    assert main([*args, "--out", str(tmp_path / "c")]) == 2
    line = one_error_line(capsys)
    assert line.startswith("error: --layers: this comparison needs about ") and "× 2 runs" in line


def test_a_slow_run_warns_in_one_line_and_goes_on(tmp_path, capsys, monkeypatch):
    import engine.training.estimate as estimate

    monkeypatch.setattr(estimate, "SLOW_SECONDS", 1e-9)
    out = tmp_path / "slow"
    assert main(["train", "--points", "20", "--epochs", "1", "--out", str(out)]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning")]
    assert len(warnings) == 1 and warnings[0].startswith("warning: this run will take about ")
    assert warnings[0].endswith(" s (estimate)") and (out / "history.csv").exists()


@pytest.mark.parametrize(
    "failure",
    [
        RuntimeError(
            "[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: you tried to "
            "allocate 40000000000 bytes. Error code 12 (Cannot allocate memory)"
        ),
        MemoryError(),
    ],
)
def test_running_out_of_memory_anyway_is_a_user_error_with_the_estimate(tmp_path, capsys, monkeypatch, failure):
    import gui.cli.train as cli_train

    def out_of_memory(*args, **kwargs):
        raise failure

    monkeypatch.setattr(cli_train, "_train", out_of_memory)
    assert main(["train", "--points", "20", "--epochs", "1", "--out", str(tmp_path / "o")]) == 2
    line = one_error_line(capsys)
    assert line.startswith("error: --layers: the run ran out of memory")
    assert "the estimate was about " in line and "this machine has " in line
    if isinstance(failure, RuntimeError):
        assert "(could not allocate 40 GB)" in line


def test_out_of_memory_in_a_comparison_job_is_a_user_error(tmp_path, capsys, monkeypatch):
    import torch

    import gui.cli.sweep_run as sweep_run

    def job(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        yield

    monkeypatch.setattr(sweep_run, "sweep_job", job)
    args = ["compare", "--points", "20", "--epochs", "1", "--vary", "lr=0.1,0.2", "--out", str(tmp_path / "c")]
    assert main(args) == 2
    line = one_error_line(capsys)
    assert line.startswith("error: --layers: the comparison ran out of memory (could not allocate 20.00 GiB)")


def test_a_run_that_is_not_finite_before_training_says_diverged_at_epoch_0(tmp_path, capsys):
    """Weights near the float32 limit make the very first loss infinite: 'diverged at epoch 0', not 'loss nan'."""
    huge = {
        "layers": [{"weight": [[3e38, 3e38]] * 4, "bias": [3e38] * 4}, {"weight": [[3e38] * 4] * 3, "bias": [0.0] * 3}]
    }
    weights = tmp_path / "w.json"
    weights.write_text(json.dumps(huge))
    out = tmp_path / "out"
    args = ["train", "--points", "20", "--layers", "2,4,3", "--epochs", "3", "--dropout", "0.1"]
    code = main([*args, "--init-weights", str(weights), "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "diverged at epoch 0 (" in printed and "train loss nan" not in printed


def test_train_iris_writes_confusion_and_per_class_accuracy(tmp_path):
    out = tmp_path / "o"
    args = ["train", "--dataset", "iris", "--optimizer", "adam", "--lr", "0.01", "--epochs", "2", "--out", str(out)]
    assert main(args) == 0
    assert QtGui.QImage(str(out / "confusion.png")).width() > 500
    rows = list(csv.DictReader(open(out / "per_class_accuracy.csv")))
    assert [r["class"] for r in rows] == ["setosa", "versicolor", "virginica"]
    assert not (out / "decision.png").exists()


def test_compare_grid_png_draws_every_panel(tmp_path):
    """A 3 × 2 grid: every panel, cropped out of grid.png, has the curve's own colour drawn in it."""
    from gui.charts import style
    from gui.charts.grid import PANEL_H, PANEL_W

    out = tmp_path / "g"
    vary = ["--vary", "optimizer=sgd,adam,rmsprop", "--vary", "lr=0.1,0.01"]
    assert main(["compare", "--dataset", "iris", "--layers", "4,8,3", "--epochs", "3", *vary, "--out", str(out)]) == 0
    image = QtGui.QImage(str(out / "grid.png"))
    assert image.width() >= 2 * PANEL_W and image.height() >= 3 * PANEL_H
    blue = QtGui.QColor(style.colour(0))
    top = image.height() - 3 * PANEL_H  # the title row above the panels
    for i in range(3):
        for j in range(2):
            x0, y0 = image.width() * j // 2, top + i * PANEL_H
            hits = sum(
                abs(QtGui.QColor(image.pixel(x, y)).red() - blue.red()) < 30
                and abs(QtGui.QColor(image.pixel(x, y)).blue() - blue.blue()) < 30
                and abs(QtGui.QColor(image.pixel(x, y)).green() - blue.green()) < 30
                for x in range(x0, x0 + image.width() // 2, 2)
                for y in range(y0, y0 + PANEL_H, 2)
            )
            assert hits > 20, (i, j, hits)
