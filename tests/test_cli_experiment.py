"""`main.py surface|train|compare --experiment FILE`: saved experiments run headless, flags override fields,
experiment.json comes back out, errors name the flag or the file's field, and Ctrl+C stops the job cleanly."""

import ast
import csv
import json
import signal
from pathlib import Path

import pytest
from conftest import ROOT

from engine.experiment import (
    ComparisonSpec,
    Experiment,
    SurfaceSettings,
    TrainingSettings,
    VaryField,
    load_experiment,
    save_experiment,
)
from engine.surface.paths import compute_paths
from engine.training.compare import run_comparison
from engine.training.config import TrainConfig
from engine.training.trainer import Trainer
from main import main

CLI = ROOT / "gui" / "cli"


def small_experiment() -> Experiment:
    return Experiment(
        training=TrainingSettings(points=60, epochs=3),
        comparison=ComparisonSpec(
            base=TrainingSettings(points=60, epochs=3, seed=2),
            vary=[VaryField(field="momentum", values=["0", "0.5"])],
        ),
        surface=SurfaceSettings(
            function="peaks",
            optimizers=["sgd", "adam"],
            hyperparameters={"sgd": {"lr": 0.05}},  # not the command line's default (0.01)
            steps=20,
            starts=[(-0.35, -0.67)],
        ),
    )


@pytest.fixture
def exp_file(tmp_path):
    return save_experiment(small_experiment(), tmp_path / "exp.json")


def rows(path):
    return list(csv.DictReader(open(path)))


def one_error_line(capsys, after_summary: bool = False) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    if after_summary:  # train and compare print the data set's summary before they start
        err = err[1:]
    assert len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


def nothing_written(out: Path) -> bool:
    return not out.exists() or not any(out.iterdir())


# -- running a saved experiment ---------------------------------------------------------------------------------
def test_train_runs_the_files_training_settings(tmp_path, exp_file, capsys):
    out = tmp_path / "t"
    assert main(["train", "--experiment", str(exp_file), "--out", str(out)]) == 0
    settings = small_experiment().training
    expected = Trainer(settings.to_config()).run()
    history = rows(out / "history.csv")
    assert [int(r["epoch"]) for r in history] == [0, 1, 2, 3]
    assert [float(r["train_loss"]) for r in history] == [r.train_loss for r in expected]
    for name in ("history.json", "weights.json", "loss.png", "accuracy.png", "lr.png", "decision.png"):
        assert (out / name).exists(), name
    assert "experiment.json" in capsys.readouterr().out


def test_train_experiment_json_opens_with_its_history(tmp_path, exp_file):
    out = tmp_path / "t"
    assert main(["train", "--experiment", str(exp_file), "--epochs", "2", "--out", str(out)]) == 0
    exp = load_experiment(out / "experiment.json")
    assert json.loads((out / "experiment.json").read_text())["descent_lab_experiment"] == 3
    assert exp.tab == 1 and exp.training.epochs == 2 and exp.training.points == 60
    result = exp.results.training
    history = rows(out / "history.csv")
    assert len(result.history) == len(history) == 3
    for saved, row in zip(result.history, history):
        for key, text in row.items():
            assert saved[key] == (None if text == "" else float(text)), key
    assert len(result.weights["layers"]) == 2 and "spiral" in result.data_summary
    assert exp.surface == small_experiment().surface  # the file's other sections are kept
    assert exp.comparison == small_experiment().comparison


def test_compare_runs_the_files_own_comparison(tmp_path, exp_file, capsys):
    out = tmp_path / "c"
    assert main(["compare", "--experiment", str(exp_file), "--out", str(out)]) == 0
    spec = small_experiment().comparison
    expected = run_comparison(spec.to_comparison())
    runs = rows(out / "runs.csv")
    assert "momentum" in runs[0] and len(runs) == 2 * 4 and {r["seed"] for r in runs} == {"2"}
    for k, res in enumerate(expected):
        got = [float(r["train_loss"]) for r in runs if r["run"] == str(k)]
        assert got == [h.train_loss for h in res.history]
    assert len(rows(out / "summary.csv")) == 2
    exp = load_experiment(out / "experiment.json")
    assert exp.tab == 2 and exp.comparison == spec
    losses = [[h["train_loss"] for h in r["history"]] for r in exp.results.comparison.runs]
    assert losses == [[h.train_loss for h in r.history] for r in expected]
    assert "experiment.json" in capsys.readouterr().out


def test_surface_runs_the_files_surface_settings(tmp_path, exp_file):
    out = tmp_path / "s"
    assert main(["surface", "--experiment", str(exp_file), "--out", str(out)]) == 0
    settings = small_experiment().surface
    surface = settings.surface()
    expected = compute_paths(surface, settings.specs(), settings.start_points(surface), settings.steps)
    data = json.loads((out / "paths.json").read_text())
    assert data["steps"] == 20 and [r["optimizer"] for r in data["runs"]] == ["sgd", "adam"]
    assert [r["points"] for r in data["runs"]] == [p.points.tolist() for p in expected]
    assert data["runs"][0]["params"]["lr"] == 0.05  # the window's rate, from the file
    assert (out / "surface.png").exists() and len(rows(out / "paths.csv")) == 2 * 21
    exp = load_experiment(out / "experiment.json")
    assert exp.tab == 0 and exp.surface == settings
    assert [p["points"] for p in exp.results.surface.paths] == [r["points"] for r in data["runs"]]


# -- flags override fields ------------------------------------------------------------------------------------------
def test_flags_override_the_files_fields(tmp_path, exp_file):
    out = tmp_path / "t"
    args = ["--experiment", str(exp_file), "--epochs", "2", "--lr", "0.05", "--set", "momentum=0.5"]
    assert main(["train", *args, "--out", str(out)]) == 0
    assert [int(r["epoch"]) for r in rows(out / "history.csv")] == [0, 1, 2]
    config = json.loads((out / "history.json").read_text())["config"]
    assert config["points"] == 60 and config["optimizer_params"]["lr"] == 0.05
    assert config["optimizer_params"]["momentum"] == 0.5


def test_vary_and_seeds_replace_the_files_lists(tmp_path, exp_file):
    out = tmp_path / "c"
    argv = ["compare", "--experiment", str(exp_file), "--vary", "lr=0.1,0.01", "--seeds", "1,3", "--out", str(out)]
    assert main(argv) == 0
    runs = rows(out / "runs.csv")
    assert "lr" in runs[0] and "momentum" not in runs[0]
    assert {(r["lr"], r["seed"]) for r in runs} == {("0.1", "1"), ("0.1", "3"), ("0.01", "1"), ("0.01", "3")}
    spec = load_experiment(out / "experiment.json").comparison
    assert [(v.field, v.values) for v in spec.vary] == [("lr", ["0.1", "0.01"])] and spec.seeds == [1, 3]
    assert spec.base.points == 60 and spec.base.epochs == 3


def test_surface_flags_override_the_file(tmp_path, exp_file):
    out = tmp_path / "s"
    argv = ["surface", "--experiment", str(exp_file), "--optimizers", "adam", "--lr", "0.1", "--steps", "5"]
    assert main([*argv, "--out", str(out)]) == 0
    data = json.loads((out / "paths.json").read_text())
    assert [r["optimizer"] for r in data["runs"]] == ["adam"] and data["runs"][0]["params"]["lr"] == 0.1
    assert data["runs"][0]["start"] == [-0.35, -0.67] and len(data["runs"][0]["points"]) == 6


def test_a_new_data_set_keeps_the_files_hidden_layers(tmp_path, tmp_path_factory):
    exp = Experiment(training=TrainingSettings(points=60, epochs=1, layers=[2, 7, 3]))
    path = save_experiment(exp, tmp_path / "e.json")
    out = tmp_path / "t"
    assert main(["train", "--experiment", str(path), "--dataset", "iris", "--out", str(out)]) == 0
    assert json.loads((out / "history.json").read_text())["config"]["layers"] == [4, 7, 3]


def test_a_version_1_file_runs(tmp_path):
    v1 = {
        "descent_lab_experiment": 1,
        "training": TrainConfig(points=50, epochs=2).to_dict(),
        "comparison": {"field1": "lr", "values1": "0.1, 0.05", "field2": "(none)", "values2": "", "seeds": ""},
        "tab": 1,
    }
    path = tmp_path / "old.json"
    path.write_text(json.dumps(v1))
    assert main(["train", "--experiment", str(path), "--out", str(tmp_path / "t")]) == 0
    assert len(rows(tmp_path / "t" / "history.csv")) == 3
    assert main(["compare", "--experiment", str(path), "--out", str(tmp_path / "c")]) == 0
    runs = rows(tmp_path / "c" / "runs.csv")
    assert {r["lr"] for r in runs} == {"0.1", "0.05"} and len(runs) == 2 * 3


# -- bad files and errors that name the flag or the field ----------------------------------------------------------
@pytest.mark.parametrize("command", ["train", "compare", "surface"])
def test_a_bad_file_is_one_line_naming_the_field(tmp_path, capsys, command):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"descent_lab_experiment": 2, "training": {"batch_size": 1e12}}))
    out = tmp_path / "o"
    assert main([command, "--experiment", str(path), "--out", str(out)]) == 2
    line = one_error_line(capsys)
    assert line == f"error: --experiment {path}: training.batch_size: 1e12 is not an integer in 0..1000000"
    assert nothing_written(out)


@pytest.mark.parametrize(
    "content, message",
    [(None, "cannot read"), ("not json at all\n{", "is not valid JSON"), ("[1, 2]", "not a Descent Lab experiment")],
)
def test_missing_and_non_json_files(tmp_path, capsys, content, message):
    path = tmp_path / "e.json"
    if content is not None:
        path.write_text(content)
    out = tmp_path / "o"
    assert main(["train", "--experiment", str(path), "--out", str(out)]) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"error: --experiment {path}: ") and message in line
    assert nothing_written(out)


def test_a_files_setting_that_does_not_fit_names_the_file_field(tmp_path, capsys):
    path = save_experiment(
        Experiment(training=TrainingSettings(points=50, epochs=1, layers=[5, 10, 3])), tmp_path / "e"
    )
    out = tmp_path / "o"
    assert main(["train", "--experiment", str(path), "--out", str(out)]) == 2
    assert one_error_line(capsys).startswith(f"error: --experiment {path}: training.layers: the first layer has 5")
    assert nothing_written(out)
    # the same value typed names the flag
    assert main(["train", "--experiment", str(path), "--layers", "3,10,3", "--out", str(out)]) == 2
    assert one_error_line(capsys).startswith("error: --layers: the first layer has 3")


def test_compare_vary_errors_name_the_flag_or_the_file(tmp_path, capsys, exp_file):
    out = tmp_path / "o"
    assert main(["compare", "--experiment", str(exp_file), "--vary", "momentum=0,2", "--out", str(out)]) == 2
    assert one_error_line(capsys).startswith("error: --vary momentum: ") and nothing_written(out)
    exp = small_experiment()
    exp.comparison.vary = [VaryField(field="lr", values=["0.1", "-1"])]
    path = save_experiment(exp, tmp_path / "v.json")
    assert main(["compare", "--experiment", str(path), "--out", str(out)]) == 2
    assert one_error_line(capsys).startswith(f"error: --experiment {path}: comparison.vary.0.values: ")


@pytest.mark.parametrize(
    "args, flag",
    [
        (["--optimizers", "adam", "--set", "adam.lr=-1"], "--set adam.lr"),
        (["--optimizers", "adam", "--set", "adam.nope=1"], "--set adam.nope"),
        (["--optimizers", "sgd,adam", "--lr", "-1"], "--lr"),
        (["--optimizers", "momentum", "--set", "momentum=2"], "--set momentum"),
        (["--function", "x.__class__"], "--function"),
        (["--function", "nope"], "--function"),
        (["--domain", "1,2,3"], "--domain"),
        (["--function", "peaks", "--domain", "0,1"], "--domain"),
        (["--start", "1,2,3"], "--start"),
        (["--optimizers", "sgd,nope"], "--optimizers"),
        (["--scheduler", "step", "--sched-set", "step_size=0"], "--sched-set step_size"),
    ],
)
def test_surface_errors_name_the_flag_typed(tmp_path, capsys, exp_file, args, flag):
    for file_args in ([], ["--experiment", str(exp_file)]):
        out = tmp_path / "o"
        assert main(["surface", *file_args, *args, "--out", str(out)]) == 2
        line = one_error_line(capsys)
        assert line.startswith(f"error: {flag}: "), line
        assert nothing_written(out)


def test_surface_field_words():
    from gui.cli.surface import flag_words

    assert flag_words("steps") == "--steps" and flag_words("formula") == "--function"
    assert flag_words("function") == "--function" and flag_words("domain") == "--domain"
    assert flag_words("starts") == "--start" and flag_words("starts.0") == "--start"
    assert flag_words("hyperparameters.adam.lr") == "--set adam.lr"
    assert flag_words("scheduler_params.gamma") == "--sched-set gamma"


def test_no_file_keeps_the_command_lines_defaults(tmp_path):
    out = tmp_path / "s"
    assert main(["surface", "--steps", "3", "--out", str(out)]) == 0
    data = json.loads((out / "paths.json").read_text())
    assert [r["optimizer"] for r in data["runs"]] == ["sgd"] and data["runs"][0]["params"]["lr"] == 0.01
    settings = load_experiment(out / "experiment.json").surface
    assert settings.optimizers == ["sgd"] and settings.hyperparameters["sgd"]["lr"] == 0.01 and settings.steps == 3
    out = tmp_path / "t"
    assert main(["train", "--dataset", "iris", "--optimizer", "adam", "--epochs", "1", "--out", str(out)]) == 0
    config = json.loads((out / "history.json").read_text())["config"]
    assert config["layers"] == [4, 50, 3] and config["optimizer_params"]["lr"] == 0.001


# -- Ctrl+C ----------------------------------------------------------------------------------------------------------
def _interrupting(job_factory):
    """Wrap a job factory so that the job gets a Ctrl+C (SIGINT) right after its first snapshot."""

    def make(*args, **kwargs):
        job = job_factory(*args, **kwargs)
        first = next(job)
        signal.raise_signal(signal.SIGINT)
        yield first
        return (yield from job)

    return make


@pytest.mark.parametrize(
    "command, module, job, args",
    [
        ("train", "gui.cli.train", "train_job", ["--points", "50", "--epochs", "50"]),
        ("compare", "gui.cli.sweep_run", "sweep_job", ["--points", "50", "--epochs", "50", "--vary", "lr=0.1,0.2"]),
        ("surface", "gui.cli.surface", "paths_job", ["--steps", "500"]),
    ],
)
def test_ctrl_c_stops_the_job_and_writes_nothing(tmp_path, capsys, monkeypatch, command, module, job, args):
    import importlib

    mod = importlib.import_module(module)
    monkeypatch.setattr(mod, job, _interrupting(getattr(mod, job)))
    before = signal.getsignal(signal.SIGINT)
    out = tmp_path / "o"
    assert main([command, *args, "--out", str(out)]) == 130
    assert one_error_line(capsys, after_summary=command != "surface") == "error: interrupted"
    assert nothing_written(out)
    assert signal.getsignal(signal.SIGINT) is before  # the handler is put back


def test_progress_bars_stay_off_when_stderr_is_not_a_terminal(tmp_path, capsys):
    from gui.cli.driver import progress

    with progress(10, "x", "step") as bar:
        assert bar.disable
    assert main(["train", "--points", "50", "--epochs", "2", "--out", str(tmp_path / "t")]) == 0
    err = capsys.readouterr().err
    assert "epoch" not in err and "\r" not in err


# -- module size and layering ------------------------------------------------------------------------------------------
def test_cli_modules_are_small_documented_and_acyclic():
    import grimp

    for path in sorted(CLI.glob("*.py")):
        text = path.read_text()
        assert len(text.splitlines()) < 400, path.name
        tree = ast.parse(text)
        public = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name[0] != "_"]
        public += [m for c in public if isinstance(c, ast.ClassDef) for m in c.body if isinstance(m, ast.FunctionDef)]
        for node in (n for n in public if not n.name.startswith("_")):
            doc = ast.get_docstring(node)
            assert doc, f"{path.name}: {node.name} has no docstring"
            if isinstance(node, ast.FunctionDef):
                assert "return" in doc.lower(), f"{path.name}: {node.name}'s docstring does not say what it returns"
    graph = grimp.build_graph("gui", "engine")
    modules = sorted(m for m in graph.modules if m.startswith("gui.cli."))
    assert {"gui.cli.train", "gui.cli.compare", "gui.cli.surface"} <= set(modules)
    assert graph.find_shortest_chain(importer="gui.cli.compare", imported="gui.cli.surface") is None
    for a in modules:
        for b in modules:
            if a < b:
                cycle = graph.chain_exists(a, b) and graph.chain_exists(b, a)
                assert not cycle, f"import cycle between {a} and {b}"
        assert not graph.chain_exists(a, "gui.cli"), f"{a} imports the gui.cli package"
        assert not graph.chain_exists(a, "gui.views"), a


# -- estimates and output paths with experiment files ------------------------------------------------------------------
def test_a_file_whose_network_cannot_fit_is_refused_naming_the_files_field(tmp_path, capsys, monkeypatch):
    import engine.training.estimate as estimate

    monkeypatch.setattr(estimate, "available_memory", lambda device="cpu": (24 * 10**9, 24 * 10**9))
    exp = small_experiment()
    exp.training = TrainingSettings(points=60, epochs=1, layers=[2, 100000, 100000, 3])
    path = save_experiment(exp, tmp_path / "big.json")
    out = tmp_path / "o"
    assert main(["train", "--experiment", str(path), "--out", str(out)]) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"error: --experiment {path}: training.layers: this network needs about ")
    assert line.endswith("this machine has 24 GB") and not out.exists()


def test_experiment_json_comes_out_whole_into_a_new_folder(exp_file, tmp_path):
    out = tmp_path / "new" / "run"
    assert main(["surface", "--experiment", str(exp_file), "--steps", "3", "--grid", "20", "--out", str(out)]) == 0
    assert load_experiment(out / "experiment.json").surface.steps == 3
    assert sorted(p.name for p in out.iterdir()) == ["experiment.json", "paths.csv", "paths.json", "surface.png"]
    assert [p.name for p in (tmp_path / "new").iterdir()] == ["run"]  # no staging folder left beside it
