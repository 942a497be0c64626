"""`main.py runs list|show|export`: the run store read back as tables, CSV and experiment JSON."""

import csv

import pytest

from engine.experiment import load_experiment
from engine.sweep.store import RunStore
from main import main


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A store with one sweep of four runs (lr × 2 seeds), run through `compare`."""
    folder = tmp_path_factory.mktemp("runs")
    path = folder / "s.sqlite"
    args = ["compare", "--points", "60", "--epochs", "3", "--vary", "lr=0.1,0.02", "--seeds", "1,2"]
    assert main([*args, "--store", str(path), "--out", str(folder / "out")]) == 0
    return path


def test_list_shows_the_sweeps_then_one_sweeps_runs(store, capsys):
    assert main(["runs", "list", "--store", str(store)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split() == ["sweep", "started", "backend", "status", "runs", "varied"]
    assert lines[1].split()[0] == "1" and "local" in lines[1] and "finished" in lines[1] and "4/4" in lines[1]
    assert lines[1].endswith("lr=0.1,0.02; seeds 1,2")
    assert main(["runs", "list", "--sweep", "1", "--store", str(store)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 5
    with RunStore(store) as s:
        for line, run in zip(lines[1:], s.runs(1)):
            cells = line.split()
            assert cells[:3] == [str(run.id), "1", str(run.result.seed)]
            assert float(cells[3]) == pytest.approx(run.final_loss, rel=1e-3)
            assert line.endswith(f"lr={run.result.label['lr']}")


def test_show_prints_the_configuration_and_every_epoch(store, capsys):
    assert main(["runs", "show", "2", "--store", str(store)]) == 0
    text = capsys.readouterr().out
    with RunStore(store) as s:
        run = s.run(2)
    assert text.startswith(f"run 2 of sweep 1: lr={run.result.label['lr']}, seed {run.result.seed}")
    assert '"points": 60' in text and "history:" in text
    history = text.split("history:\n")[1].strip().splitlines()
    assert history[0].split()[:2] == ["epoch", "train_loss"] and len(history) == 1 + 4  # epochs 0..3
    assert float(history[-1].split()[1]) == pytest.approx(run.result.history[-1].train_loss, rel=1e-3)


def test_export_csv_has_a_row_per_run_and_epoch(store, tmp_path, capsys):
    out = tmp_path / "runs.csv"
    assert main(["runs", "export", "--sweep", "1", "--out", str(out), "--store", str(store)]) == 0
    rows = list(csv.DictReader(open(out)))
    assert len(rows) == 4 * 4
    with RunStore(store) as s:
        last = s.run(int(rows[-1]["run"])).result.history[-1]
    assert float(rows[-1]["train_loss"]) == last.train_loss
    # the columns and values of compare's runs.csv (lr: the run's rate, epoch_lr: the epoch's), after run/sweep/backend
    compared = list(csv.DictReader(open(store.parent / "out" / "runs.csv")))
    assert list(rows[0]) == ["run", "sweep", "backend", *list(compared[0])[1:]]
    assert "lr" in rows[0] and "epoch_lr" in rows[0] and "varied_lr" not in rows[0]
    keys = list(compared[0])[1:]  # the same rows, in the store's order (runs finish in any order)
    assert sorted(tuple(r[k] for k in keys) for r in rows) == sorted(tuple(r[k] for k in keys) for r in compared)
    assert {r["sweep"] for r in rows} == {"1"} and {r["backend"] for r in rows} == {"local"}


def test_export_csv_of_a_scheduled_run_keeps_both_rates(tmp_path):
    path = tmp_path / "s.sqlite"
    args = ["compare", "--points", "40", "--epochs", "3", "--vary", "optimizer=sgd,adam", "--scheduler", "step"]
    assert main([*args, "--sched-set", "step_size=1", "--store", str(path), "--out", str(tmp_path / "o")]) == 0
    assert main(["runs", "export", "--out", str(tmp_path / "e.csv"), "--store", str(path)]) == 0
    rows = list(csv.DictReader(open(tmp_path / "e.csv")))
    late = [r for r in rows if r["epoch"] == "3"]
    assert {r["optimizer"] for r in late} == {"sgd", "adam"}
    assert all(float(r["epoch_lr"]) < float(r["lr"]) for r in late)  # lr: the configured rate; epoch_lr: scheduled


def test_export_write_errors_name_out(store, tmp_path, capsys):
    target = tmp_path / "no-such-folder" / "runs.csv"
    assert main(["runs", "export", "--out", str(target), "--store", str(store)]) == 2
    assert capsys.readouterr().err.startswith(f"error: --out: cannot write {target}")
    assert (
        main(["runs", "export", "--run", "1", "--out", str(tmp_path / "nope" / "r.json"), "--store", str(store)]) == 2
    )
    assert capsys.readouterr().err.startswith("error: --out: cannot write")


def test_export_json_opens_as_an_experiment(store, tmp_path):
    one = tmp_path / "one.json"
    assert main(["runs", "export", "--run", "3", "--out", str(one), "--store", str(store)]) == 0
    exp = load_experiment(one)
    with RunStore(store) as s:
        run = s.run(3).result
    assert exp.tab == 1 and exp.training.to_config() == run.config
    assert [h.train_loss for h in exp.results.training.records()] == [h.train_loss for h in run.history]
    sweep = tmp_path / "sweep.json"
    assert main(["runs", "export", "--sweep", "1", "--out", str(sweep), "--store", str(store)]) == 0
    exp = load_experiment(sweep)
    assert exp.tab == 2 and [v.field for v in exp.comparison.vary] == ["lr"] and exp.comparison.seeds == [1, 2]
    assert len(exp.results.comparison.to_results()) == 4
    assert len(exp.comparison.to_comparison().runs()) == 4  # reopened, it plans the same sweep


@pytest.mark.parametrize(
    "args, line",
    [
        (["show", "99"], "error: RUN_ID: no run 99 in {store}"),
        (["show", "x"], "error: RUN_ID: 'x' is not an id (a whole number)"),
        (["list", "--sweep", "7"], "error: --sweep: no sweep 7 in {store}"),
        (
            ["export", "--run", "1", "--out", "x.txt"],
            "error: --out: 'x.txt' ends in neither .csv nor .json: give --format",
        ),
        (
            ["export", "--out", "x.json"],
            "error: --out: the experiment JSON is of one run or one sweep: give --run ID or --sweep ID",
        ),
    ],
)
def test_errors_name_what_is_wrong(store, capsys, args, line):
    assert main(["runs", *args, "--store", str(store)]) == 2
    assert capsys.readouterr().err.strip() == line.format(store=store)


def test_a_missing_store_says_so(tmp_path, capsys):
    missing = tmp_path / "none.sqlite"
    assert main(["runs", "list", "--store", str(missing)]) == 2
    assert (
        capsys.readouterr().err.strip()
        == f"error: --store: no run store at {missing} (run `compare` first, or name one)"
    )
    assert not missing.exists()
