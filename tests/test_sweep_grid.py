"""Sweeps over any number of varied fields: the full grid times the seeds, a reproducible --sample, the summary
with every field, and small multiples over two fields the user chooses (`compare --grid-fields`)."""

import csv
import itertools
import json

import pytest
from PIL import Image

from engine.errors import UserError
from engine.experiment import ComparisonSpec, TrainingSettings, VaryField
from engine.sweep.grid import SweepGrid, combination, grid_size, parse_grid_fields, sample_indices
from engine.training.config import TrainConfig
from main import main

VARY3 = [("lr", ["0.1", "0.01"]), ("momentum", ["0", "0.5", "0.9"]), ("batch_size", ["10", "20"])]
SMALL = ["--points", "60", "--epochs", "2"]


@pytest.fixture(autouse=True)
def own_store(tmp_path, monkeypatch):
    monkeypatch.setenv("DESCENT_LAB_STORE", str(tmp_path / "store.sqlite"))


def test_combinations_follow_the_product_order_for_any_number_of_fields():
    product = [dict(zip([n for n, _ in VARY3], combo)) for combo in itertools.product(*[v for _, v in VARY3])]
    assert grid_size(VARY3) == 12
    assert [combination(VARY3, i) for i in range(12)] == product


def test_the_full_grid_times_the_seeds_sets_every_field():
    grid = SweepGrid(TrainConfig(points=60, epochs=2), VARY3, [3, 4])
    runs = grid.runs()
    assert len(runs) == 24
    assert [r[1] for r in runs[:4]] == [3, 4, 3, 4]  # seeds innermost
    for label, seed, cfg in runs:
        assert cfg.seed == seed and cfg.batch_size == int(label["batch_size"])
        assert cfg.optimizer_params["lr"] == float(label["lr"]) and cfg.optimizer_params["momentum"] == float(
            label["momentum"]
        )


def test_sample_is_a_reproducible_subset_drawn_from_the_seed():
    base = TrainConfig(points=60, epochs=2, seed=7)
    one = SweepGrid(base, VARY3, [1, 2], sample=5).runs()
    again = SweepGrid(base, VARY3, [1, 2], sample=5).runs()
    other = SweepGrid(TrainConfig(points=60, epochs=2, seed=8), VARY3, [1, 2], sample=5).runs()
    labels = lambda runs: [r[0] for r in runs]  # noqa: E731
    assert labels(one) == labels(again) and len(one) == 10  # 5 combinations, each with both seeds
    assert labels(one) != labels(other)
    full = labels(SweepGrid(base, VARY3, [1, 2]).runs())
    assert all(label in full for label in labels(one))
    assert len({json.dumps(x) for x in labels(one)}) == 5
    # a grid far too big to list is still sampled at once, without listing it
    big = [(f"x{i}", [str(v) for v in range(10)]) for i in range(8)]
    assert len(sample_indices(grid_size(big), 50, 1)) == 50 and grid_size(big) == 10**8


def test_too_many_runs_say_so_and_point_at_sample():
    many = [("lr", [str(0.01 * k) for k in range(1, 21)]), ("momentum", [str(0.04 * k) for k in range(21)])]
    with pytest.raises(UserError, match="at most 400 .*--sample") as err:
        SweepGrid(TrainConfig(), many).runs()
    assert err.value.field == "vary"
    assert len(SweepGrid(TrainConfig(), many, sample=30).runs()) == 30


def test_grid_fields_must_be_two_varied_fields():
    assert parse_grid_fields("momentum, lr", ["lr", "momentum", "batch_size"]) == ("momentum", "lr")
    for bad in ("lr", "lr,lr", "lr,seed", "lr,momentum,batch_size"):
        with pytest.raises(UserError) as err:
            parse_grid_fields(bad, ["lr", "momentum", "batch_size"])
        assert err.value.field == "grid_fields"


def test_experiment_comparison_keeps_the_sample():
    spec = ComparisonSpec(
        base=TrainingSettings(points=60, epochs=2, seed=5),
        vary=[VaryField(field=n, values=v) for n, v in VARY3],
        sample=4,
    )
    assert len(spec.to_comparison().runs()) == 4


def _rows(path):
    return list(csv.DictReader(open(path)))


def test_compare_with_three_fields_and_a_sample_writes_every_field(tmp_path, capsys):
    out = tmp_path / "o"
    vary = [a for n, v in VARY3 for a in ("--vary", f"{n}={','.join(v)}")]
    assert main(["compare", *SMALL, *vary, "--seeds", "1,2", "--sample", "5", "--out", str(out)]) == 0
    summary = _rows(out / "summary.csv")
    assert len(summary) == 5 and all(r["seeds"] == "2" for r in summary)
    assert {"lr", "momentum", "batch_size"} <= set(summary[0])
    runs = {(r["run"], r["seed"]) for r in _rows(out / "runs.csv")}
    assert len(runs) == 10
    # the same command again draws the same five combinations
    again = tmp_path / "again"
    assert main(["compare", *SMALL, *vary, "--seeds", "1,2", "--sample", "5", "--out", str(again)]) == 0
    assert [(r["lr"], r["momentum"], r["batch_size"]) for r in _rows(again / "summary.csv")] == [
        (r["lr"], r["momentum"], r["batch_size"]) for r in summary
    ]


def test_grid_png_takes_the_two_chosen_fields(tmp_path):
    vary = [a for n, v in VARY3 for a in ("--vary", f"{n}={','.join(v)}")]
    sizes = {}
    for pair in ("lr,momentum", "momentum,lr"):
        out = tmp_path / pair
        assert main(["compare", *SMALL, *vary, "--grid-fields", pair, "--out", str(out)]) == 0
        sizes[pair] = Image.open(out / "grid.png").size
    # lr has 2 values and momentum 3: columns follow the second field, rows the first
    assert sizes["lr,momentum"][0] > sizes["momentum,lr"][0]
    assert sizes["lr,momentum"][1] < sizes["momentum,lr"][1]


@pytest.mark.parametrize(
    "extra, line",
    [
        (["--sample", "0"], "error: --sample: 0 must be at least 1"),
        (["--sample", "x"], "error: --sample: 'x' is not a whole number"),
        (["--grid-fields", "lr,seed"], "error: --grid-fields: 'seed' is not varied (varied: lr, momentum)"),
        (["--backend", "spark"], "error: --backend: 'spark' is not a backend (local, ray)"),
        (["--ray-address", "auto"], "error: --ray-address: needs --backend ray"),
    ],
)
def test_sweep_options_errors_name_their_flag(tmp_path, capsys, extra, line):
    out = tmp_path / "o"
    args = ["compare", *SMALL, "--vary", "lr=0.1,0.01", "--vary", "momentum=0,0.5", *extra, "--out", str(out)]
    assert main(args) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == line
    assert not out.exists()
