"""The experiment model: defaults, files (v2 and v1), field errors, assignment, events and a fuzz of bad files."""

import copy
import json
import math
import os
import stat
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import UserError
from engine.experiment import (
    FORMAT_VERSION,
    ComparisonResult,
    ComparisonSpec,
    Experiment,
    ExperimentError,
    Results,
    Rule,
    SurfaceResult,
    SurfaceSettings,
    TrainingResult,
    TrainingSettings,
    VaryField,
    experiment_from_dict,
    experiment_to_dict,
    load_experiment,
    load_section,
    save_experiment,
)
from engine.optimizers import OPTIMIZERS
from engine.surface.functions import BUILTINS, get_surface
from engine.surface.paths import compute_paths
from engine.training.compare import Comparison, run_comparison
from engine.training.config import TrainConfig
from engine.training.trainer import Trainer


def v2(**sections) -> dict:
    """Return a version-2 document with the given sections."""
    return {"descent_lab_experiment": 2, **sections}


# -- defaults ---------------------------------------------------------------------------------------------
def test_defaults_are_the_apps_start_state():
    exp = Experiment()
    assert exp.tab == 0 and exp.results == Results() and exp.results.training is None
    assert exp.surface.function == "peaks" and exp.surface.steps == 200 and exp.surface.starts == []
    assert exp.surface.optimizers == ["sgd", "momentum", "adam", "rmsprop"]
    assert set(exp.surface.hyperparameters) == set(OPTIMIZERS.ids())
    assert exp.surface.hyperparameters["adam"] == OPTIMIZERS.get("adam").defaults()  # its own rate, as the CLI's
    assert exp.surface.hyperparameters["adadelta"]["lr"] == 1.0
    assert exp.training.to_config() == TrainConfig().validated()
    assert exp.training.model_dump() == TrainConfig().to_dict()
    assert exp.comparison.base == exp.training and exp.comparison.base is not exp.training
    assert exp.comparison.vary == [VaryField(field="momentum", values=["0", "0.1", "0.2", "0.4", "0.5"])]
    assert exp.comparison.target_acc == 0.9 and exp.comparison.seeds == []
    two = Experiment()
    assert two.surface.optimizers is not exp.surface.optimizers  # defaults are never shared


def test_fields_carry_their_rule_for_the_views():
    def rule(model, name):
        return next(m for m in model.model_fields[name].metadata if isinstance(m, Rule))

    assert (rule(TrainingSettings, "batch_size").low, rule(TrainingSettings, "batch_size").high) == (0, 1_000_000)
    assert rule(TrainingSettings, "test_fraction").describe() == "a number in [0, 1) or null"
    assert rule(SurfaceSettings, "steps").describe() == "an integer in 1..100000"
    assert "cross-entropy" in rule(TrainingSettings, "loss").choices
    assert rule(ComparisonSpec, "target_acc").check(1) == 1.0
    with pytest.raises(ValueError, match="'1' is not a number in 0..1"):
        rule(ComparisonSpec, "target_acc").check("1")


def test_surface_methods():
    s = SurfaceSettings(function="formula", formula="x**2 + y**2", domain="-1,1,-2,2", starts=[[0.5], [0.5, 1.0]])
    surface = s.surface()
    assert surface.dims == 2 and surface.domain == ((-1.0, 1.0), (-2.0, 2.0))
    assert s.start_points(surface) == [(0.5, 1.0)]
    assert s.start_points(get_surface("xsin")) == [(0.5,)]
    assert SurfaceSettings().start_points(BUILTINS["peaks"]) == [BUILTINS["peaks"].default_start]
    specs = SurfaceSettings(optimizers=["adam", "sgd"], hyperparameters={"adam": {"lr": 0.2}}).specs()
    assert [(p.optimizer, p.params["lr"]) for p in specs] == [("adam", 0.2), ("sgd", 0.01)]
    assert specs[0].params["beta2"] == 0.999
    with pytest.raises(ExperimentError) as info:
        SurfaceSettings.model_construct(function="formula", formula="x**", domain="").surface()
    assert info.value.field == "formula"
    with pytest.raises(ExperimentError) as info:
        SurfaceSettings.model_construct(function="formula", formula="x", domain="0,1,0,1").surface()
    assert info.value.field == "domain"


# -- files ---------------------------------------------------------------------------------------------------
def _experiment_with_results() -> tuple[Experiment, Trainer, list, list]:
    exp = Experiment(tab=2)
    exp.training.epochs = 3
    exp.training.points = 50
    trainer = Trainer(exp.training.to_config())
    trainer.run()
    exp.results.training = TrainingResult.from_trainer(trainer)
    exp.surface.function = "rosenbrock"
    exp.surface.starts = [(-1.0, 1.5), (0.5, 2.5)]
    exp.surface.steps = 25
    exp.surface.hyperparameters = {"sgd": {"lr": 0.05}, "momentum": {"lr": 0.05}}  # the others at their own rates
    surface = exp.surface.surface()
    paths = compute_paths(surface, exp.surface.specs(), exp.surface.start_points(surface), exp.surface.steps)
    exp.results.surface = SurfaceResult.from_paths(paths)
    exp.comparison = ComparisonSpec(
        base={"epochs": 2, "points": 30, "optimizer": "momentum"}, vary=[{"field": "lr", "values": ["0.01", "0.3"]}]
    )
    exp.comparison.seeds = [1, 2]
    runs = run_comparison(exp.comparison.to_comparison())
    exp.results.comparison = ComparisonResult.from_results(runs)
    return exp, trainer, paths, runs


def test_round_trip_with_real_results(tmp_path):
    exp, trainer, paths, runs = _experiment_with_results()
    assert len(paths) == 8 and len(runs) == 4 and len(trainer.history) == 4
    saved = save_experiment(exp, tmp_path / "exp.json")
    assert saved == tmp_path / "exp.json" and os.listdir(tmp_path) == ["exp.json"]
    data = json.loads(saved.read_text())
    assert data["descent_lab_experiment"] == FORMAT_VERSION == 3
    assert data["comparison"]["base"]["optimizer"] == "momentum" and data["training"]["optimizer"] == "sgd"
    back = load_experiment(saved)
    assert back == exp
    for name in ("surface", "training", "comparison", "tab"):
        assert getattr(back, name) == getattr(exp, name)
    assert back.results.training.history == exp.results.training.history
    assert back.results.training.records() == trainer.history
    assert back.results.training.weights == trainer.weights()
    assert back.results.training.data_summary == trainer.data.summary() != ""
    for got, want in zip(back.results.surface.to_paths(), paths, strict=True):
        assert (got.optimizer, got.label, got.start, got.start_index, got.params) == (
            want.optimizer,
            want.label,
            want.start,
            want.start_index,
            want.params,
        )
        for name in ("points", "losses", "grad_norms", "lrs"):
            np.testing.assert_array_equal(getattr(got, name), getattr(want, name))
        assert got.points.shape == want.points.shape and got.diverged_at == want.diverged_at
    # sgd and momentum leave the Rosenbrock valley at lr 0.05; adam and rmsprop take all 25 steps
    assert [(len(p.points), p.diverged_at) for p in paths[::2]] == [(2, 1), (2, 1), (26, None), (26, None)]
    again = back.results.comparison.to_results()
    assert [(r.label, r.seed, r.config, r.history, r.diverged_at) for r in again] == [
        (r.label, r.seed, r.config, r.history, r.diverged_at) for r in runs
    ]
    assert again[-1].config.optimizer_params["lr"] == 0.3 and again[-1].seed == 2
    # the same through a JSON string, bytes and a dict
    assert load_experiment(saved.read_text()) == exp
    assert load_experiment(saved.read_bytes()) == exp
    assert experiment_from_dict(experiment_to_dict(exp)) == exp


def test_non_finite_results_survive_a_file(tmp_path):
    history = [
        {"epoch": 0, "train_loss": 1.0, "test_loss": None, "train_acc": 0.5, "test_acc": None}
        | {"lr": 0.1, "grad_norm": 2.0, "seconds": 0.0},
        {"epoch": 1, "train_loss": math.nan, "test_loss": None, "train_acc": math.nan, "test_acc": None}
        | {"lr": 0.1, "grad_norm": math.inf, "seconds": 0.1},
    ]
    exp = Experiment()
    exp.results.training = TrainingResult(config=TrainConfig().to_dict(), history=history, diverged_at=1)
    text = save_experiment(exp, tmp_path / "e.json").read_text()
    assert '"NaN"' in text and '"Infinity"' in text and "NaN," not in text.replace('"NaN",', "")
    records = load_experiment(tmp_path / "e.json").results.training.records()
    assert records[0].test_loss is None and math.isnan(records[1].train_loss)
    assert records[1].grad_norm == math.inf and records[1].epoch == 1


def test_version_1_file_opens_with_the_training_settings_as_comparison_base():
    training = TrainConfig(epochs=7, optimizer="adam", optimizer_params={"lr": 0.003}, layers=(2, 8, 3)).to_dict()
    v1 = {
        "descent_lab_experiment": 1,
        "surface": {
            "function": "formula",
            "formula": "x**2 + 3*y**2",
            "domain": "-2,2,-1,1",
            "log": True,
            "optimizers": ["adam", "nesterov"],
            "hyperparameters": {"adam": {**OPTIMIZERS.get("adam").defaults(), "lr": 0.2}},
            "scheduler": "step",
            "scheduler_params": {"step_size": 5, "gamma": 0.5},
            "steps": 40,
            "starts": [[1.0, 0.5]],
        },
        "training": training,
        "comparison": {
            "field1": "lr",
            "values1": "0.1, 0.01,0.001",
            "field2": "(none)",
            "values2": "",
            "seeds": "1,2,3",
            "target": 0.8,
        },
        "tab": 1,
    }
    exp = load_experiment(json.dumps(v1))
    assert exp.training.to_config() == TrainConfig.from_dict(training).validated()
    assert exp.comparison.base == exp.training and exp.comparison.base.epochs == 7
    assert exp.comparison.vary == [VaryField(field="lr", values=["0.1", "0.01", "0.001"])]
    assert exp.comparison.seeds == [1, 2, 3] and exp.comparison.target_acc == 0.8 and exp.tab == 1
    s = exp.surface
    assert (s.function, s.formula, s.domain, s.log, s.steps, s.starts) == (
        "formula",
        "x**2 + 3*y**2",
        "-2,2,-1,1",
        True,
        40,
        [(1.0, 0.5)],
    )
    assert s.optimizers == ["adam", "nesterov"] and s.hyperparameters["adam"]["lr"] == 0.2
    assert s.hyperparameters["nesterov"]["lr"] == 0.01 and s.scheduler_params == {"step_size": 5, "gamma": 0.5}
    assert len(exp.comparison.to_comparison().runs()) == 9
    # a second varied field, and the empty training section an invalid v1 form saved
    v1["comparison"].update(field2="momentum", values2="0,0.9", seeds="")
    v1["training"] = {}
    exp = load_experiment(v1)
    assert [v.field for v in exp.comparison.vary] == ["lr", "momentum"] and exp.comparison.seeds == []
    assert exp.training == TrainingSettings() == exp.comparison.base
    minimal = load_experiment({"descent_lab_experiment": 1})
    assert minimal == Experiment()


# -- field errors -------------------------------------------------------------------------------------------
BAD = [
    (v2(training={"batch_size": 1e12}), "training.batch_size", "1e12 is not an integer in 0..1000000"),
    (v2(training={"epochs": 0}), "training.epochs", "0 is not an integer in 1..100000"),
    (v2(training={"epochs": True}), "training.epochs", "true is not an integer"),
    (v2(training={"optimizer": "adamm"}), "training.optimizer", "'adamm' is not one of sgd"),
    (v2(training={"optimizer_params": {"lr": -1}}), "training.optimizer_params.lr", "-1 is not a number in (0, 10]"),
    (v2(training={"optimizer_params": {"betas": 1}}), "training.optimizer_params.betas", "'betas' is not a parameter"),
    (v2(training={"layers": [2, 0, 3]}), "training.layers", "0 is not a layer size in 1..100000"),
    (v2(training={"layers": "2,50,3"}), "training.layers", "'2,50,3' is not a list of 2..20 layer sizes"),
    (v2(training={"dropout": 1.5}), "training.dropout", "1.5 is not a number in 0..0.99"),
    (v2(training={"test_fraction": 1}), "training.test_fraction", "1 is not a number in [0, 1) or null"),
    (v2(training={"dataset": "cifar"}), "training.dataset", "'cifar' is not a data set"),
    (v2(training={"seed": 2**31}), "training.seed", "2147483648 is not an integer in 0..2147483647"),
    (v2(training={"epochz": 3}), "training.epochz", "'epochz' is not a setting here"),
    (v2(training={"scheduler": "step", "scheduler_params": {"gamma": 2}}), "training.scheduler_params.gamma", "2"),
    (v2(surface={"hyperparameters": {"adam": {"lr": -1}}}), "surface.hyperparameters.adam.lr", "-1 is not a number"),
    (v2(surface={"hyperparameters": {"sgd": {"nesterov": True}}}), "surface.hyperparameters.sgd.nesterov", "true"),
    (v2(surface={"hyperparameters": {"lion": {}}}), "surface.hyperparameters.lion", "'lion' is not one of"),
    (v2(surface={"optimizers": ["sgd", "lion"]}), "surface.optimizers", "'lion' is not one of"),
    (v2(surface={"optimizers": []}), "surface.optimizers", "no optimizer is chosen: tick at least one"),
    (v2(surface={"optimizers": ["sgd", "sgd"]}), "surface.optimizers", "'sgd' is listed twice"),
    (v2(surface={"steps": 0}), "surface.steps", "0 is not an integer in 1..100000"),
    (v2(surface={"starts": [[1, 2, 3]]}), "surface.starts", "[1, 2, 3] is not a start point"),
    (v2(surface={"function": "formula", "formula": "x**"}), "surface.formula", "'x**'"),
    (v2(surface={"function": "formula", "domain": "0,1,0,1"}), "surface.domain", "'0,1,0,1'"),
    (v2(surface={"domain": "a,b"}), "surface.domain", "'a,b'"),
    (v2(surface={"formula": "x\x00"}), "surface.formula", "control characters"),
    (v2(comparison={"vary": [{"field": "lr", "values": []}]}), "comparison.vary.0.values", "[] is not a list"),
    (v2(comparison={"vary": [{"field": "lr", "values": ["1", "1"]}]}), "comparison.vary.0.values", "'1' is listed"),
    (v2(comparison={"vary": [{"field": "lrr", "values": ["1"]}]}), "comparison.vary.0.field", "'lrr' is not a"),
    (v2(comparison={"vary": [{"field": "lr"}]}), "comparison.vary.0.values", "is missing"),
    (v2(comparison={"vary": [5]}), "comparison.vary.0", "5 is not an object"),
    (v2(comparison={"base": {"l2": 11}}), "comparison.base.l2", "11 is not a number in 0..10"),
    (v2(comparison={"target_acc": 2}), "comparison.target_acc", "2 is not a number in 0..1"),
    (v2(comparison={"seeds": [1, -1]}), "comparison.seeds", "-1 is not a seed"),
    (v2(tab=3), "tab", "3 is not an integer in 0..2"),
    (v2(surface=[]), "surface", "[] is not an object"),
    (v2(results={"training": {"config": {}, "history": [{"epoch": 0}]}}), "results.training.history.0.train_loss", ""),
    (v2(results={"training": {"config": {"epochs": -2}, "history": []}}), "results.training.config.epochs", "-2"),
    (v2(results={"surface": {"paths": [{"optimizer": "sgd"}]}}), "results.surface.paths.0.label", "is missing"),
    (v2(results={"comparison": {"runs": 3}}), "results.comparison.runs", "3 is not a list"),
    ({"descent_lab_experiment": 99}, "descent_lab_experiment", "99 is not a known experiment version"),
    ({"descent_lab_experiment": "2"}, "descent_lab_experiment", "'2' is not a known experiment version"),
    ({"surface": {}}, "descent_lab_experiment", "is missing"),
    ({"descent_lab_experiment": 1, "comparison": {"seeds": "1,x"}}, "comparison.seeds", "'1,x' is not whole numbers"),
    ({"descent_lab_experiment": 1, "comparison": {"values1": 5}}, "comparison.values1", "5 is not text"),
]


@pytest.mark.parametrize(("doc", "field", "words"), BAD, ids=[b[1] + ":" + b[2][:20] for b in BAD])
def test_a_bad_value_names_its_field_and_value(doc, field, words):
    for source in (doc, json.dumps(doc)):
        with pytest.raises(ExperimentError) as info:
            load_experiment(source)
        assert info.value.field == field
        assert words in info.value.message
        assert str(info.value) == f"{field}: {info.value.message}"
        assert "Input should" not in str(info.value) and "pydantic" not in str(info.value)


def test_the_brief_example_word_for_word():
    with pytest.raises(ExperimentError) as info:
        load_experiment(v2(training={"batch_size": 1e12}))
    assert str(info.value) == "training.batch_size: 1e12 is not an integer in 0..1000000"
    assert isinstance(info.value, UserError) and isinstance(info.value.under("x"), ExperimentError)


@pytest.mark.parametrize(
    ("source", "words"),
    [
        (b"\xff\xfe\x00", "not"),
        ("{not json", "not valid JSON"),
        ('{"descent_lab_experiment": 2, "tab": NaN}', "NaN is not allowed"),
        ('{"descent_lab_experiment": 2, "tab": -Infinity}', "-Infinity is not allowed"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"descent_lab_experiment": 2, "tab": 1' + "0" * 5000 + "}", "not valid JSON"),
        ("[1, 2]", "[1, 2] is not a Descent Lab experiment"),
        (b'"text"', "'text' is not a Descent Lab experiment"),
        (3.5, "cannot read an experiment from 3.5"),
    ],
)
def test_what_is_not_an_experiment(source, words):
    with pytest.raises(ExperimentError) as info:
        load_experiment(source)
    assert words in str(info.value)


def test_unreadable_files(tmp_path):
    with pytest.raises(ExperimentError, match="cannot read .*missing.json"):
        load_experiment(tmp_path / "missing.json")
    with pytest.raises(ExperimentError, match="^[^:]* is not a file$"):
        load_experiment(tmp_path)
    (tmp_path / "bad.json").write_bytes(b"\x00\x01")
    with pytest.raises(ExperimentError, match="bad.json is not valid JSON"):
        load_experiment(str(tmp_path / "bad.json"))


def test_deep_nesting_inside_a_dict():
    deep: list = []
    for _ in range(50_000):
        deep = [deep]
    with pytest.raises(ExperimentError) as info:
        load_experiment(v2(training={"layers": deep}))
    assert str(info.value) == "training.layers: [[[…]]] is not a list of 2..20 layer sizes"


def test_save_is_atomic_and_names_an_unwritable_path(tmp_path):
    target = tmp_path / "exp.json"
    target.write_text("old")
    os.chmod(target, 0o640)
    save_experiment(Experiment(tab=1), target)
    assert load_experiment(target).tab == 1 and stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(os.listdir(tmp_path)) == ["exp.json"]  # no temporary file left behind
    with pytest.raises(ExperimentError, match="cannot write .*no-such-folder"):
        save_experiment(Experiment(), tmp_path / "no-such-folder" / "exp.json")
    if sys.platform != "win32" and os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir()
        os.chmod(locked, 0o500)
        try:
            with pytest.raises(UserError, match="locked"):
                save_experiment(Experiment(), locked / "exp.json")
        finally:
            os.chmod(locked, 0o700)
    assert load_experiment(target).tab == 1  # a failed save never touches another file


# -- assignment and events --------------------------------------------------------------------------------
def test_assignment_is_validated_and_a_failure_changes_nothing():
    exp = Experiment()
    with pytest.raises(ExperimentError) as info:
        exp.training.epochs = 0
    assert (info.value.field, info.value.message) == ("epochs", "0 is not an integer in 1..100000")
    assert exp.training.epochs == 100
    with pytest.raises(ExperimentError) as info:
        exp.training = {"epochs": 10, "layers": [2, 3, 0]}
    assert info.value.field == "training.layers" and exp.training == TrainingSettings()
    with pytest.raises(ExperimentError) as info:
        exp.surface.hyperparameters = {"adam": {"lr": 0}}
    assert info.value.field == "hyperparameters.adam.lr" and exp.surface.hyperparameters["adam"]["lr"] == 0.001
    exp.surface.formula = "x**"  # a peaks surface does not read the formula
    with pytest.raises(ExperimentError) as info:
        exp.surface.function = "formula"
    assert info.value.field == "formula" and exp.surface.function == "peaks"  # the model check rolled it back
    exp.training.epochs = 5.0
    assert exp.training.epochs == 5 and type(exp.training.epochs) is int
    exp.training = {"epochs": 9}
    assert exp.training.epochs == 9 and exp.training.layers == [2, 50, 3]


def test_changing_the_optimizer_keeps_the_hyperparameters_it_also_has():
    t = TrainingSettings(optimizer="sgd", optimizer_params={"lr": 0.2, "momentum": 0.5, "nesterov": False})
    heard = []
    t.events.optimizer_params.connect(lambda v: heard.append(v))
    t.optimizer = "adam"
    assert t.optimizer_params == {"lr": 0.2} and heard == [{"lr": 0.2}]
    assert t.to_config().optimizer_params["lr"] == 0.2
    t.optimizer = "nesterov"
    t.optimizer_params = {"lr": 0.2, "momentum": 0.5}
    t.optimizer = "sgd"
    assert t.optimizer_params == {"lr": 0.2, "momentum": 0.5}
    with pytest.raises(ExperimentError):
        t.optimizer = "lion"
    assert t.optimizer == "sgd" and t.optimizer_params == {"lr": 0.2, "momentum": 0.5}
    t.scheduler_params = {}
    t.scheduler = "step"
    t.scheduler_params = {"gamma": 0.1}
    t.scheduler = "exponential"
    assert t.scheduler_params == {"gamma": 0.1}
    t.scheduler = "cosine"
    assert t.scheduler_params == {}


def test_replacing_the_comparison_emits_only_its_event_and_never_touches_training():
    exp = Experiment()
    heard = []
    for name in ("surface", "training", "comparison", "results", "tab"):
        getattr(exp.events, name).connect(lambda v, name=name: heard.append(name))
    preset = ComparisonSpec(base={"dataset": "iris", "layers": [4, 16, 3], "epochs": 40})
    exp.comparison = preset
    assert heard == ["comparison"]
    assert exp.comparison == preset and exp.comparison is not preset
    assert exp.training == TrainingSettings()
    exp.comparison.base.optimizer_params = {"lr": 0.5}
    exp.comparison.base.epochs = 17
    assert exp.training.epochs == 100 and exp.training.optimizer_params == {"lr": 0.1}
    # copying the training settings into the base copies them: the two never share an object
    exp.comparison.base = exp.training
    exp.comparison.base.epochs = 3
    assert exp.training.epochs == 100 and exp.comparison.base.epochs == 3
    heard.clear()
    exp.training.epochs = 4  # a field event, on the sub-model
    assert heard == []
    exp.comparison = exp.comparison  # an equal value is not a change
    assert heard == []


def test_load_section_prefixes_fields():
    spec = load_section(ComparisonSpec, {"vary": [{"field": "optimizer", "values": ["sgd", "adam"]}]}, "comparison")
    assert [cfg.optimizer for _, _, cfg in spec.to_comparison().runs()] == ["sgd", "adam"]
    with pytest.raises(ExperimentError) as info:
        load_section(SurfaceSettings, {"steps": -4}, "surface")
    assert info.value.field == "surface.steps" and "-4" in info.value.message


def test_to_comparison_names_the_value_that_fails():
    spec = ComparisonSpec(vary=[{"field": "momentum", "values": ["0", "0.5", "abc"]}])
    with pytest.raises(ExperimentError) as info:
        spec.to_comparison()
    assert info.value.field == "vary.0.values" and "'abc'" in info.value.message
    spec = ComparisonSpec(vary=[{"field": "lr", "values": [f"0.{i:02}" for i in range(1, 30)]}], seeds=list(range(20)))
    with pytest.raises(ExperimentError) as info:
        spec.to_comparison()
    assert info.value.field == "vary" and "580 runs requested" in info.value.message
    comparison = ComparisonSpec(seeds=[4, 5]).to_comparison()
    assert isinstance(comparison, Comparison) and len(comparison.runs()) == 10


def test_to_config_and_from_config():
    cfg = TrainConfig(optimizer="adam", optimizer_params={"lr": 0.01}, layers=(2, 9, 3), scheduler="step")
    settings = TrainingSettings.from_config(cfg)
    assert settings.layers == [2, 9, 3] and settings.to_config() == cfg.validated()
    assert TrainingSettings.from_config(cfg.validated()).to_config() == cfg.validated()
    broken = TrainingSettings.model_construct(**{**TrainConfig().to_dict(), "activation": "swish"})
    with pytest.raises(ExperimentError) as info:
        broken.to_config()
    assert info.value.field == "activation" and "swish" in info.value.message


# -- fuzz -------------------------------------------------------------------------------------------------------
DEEP, HUGE = "@@deep@@", "@@huge@@"
DEPTH = 3000


def _base_document() -> dict:
    exp = Experiment(tab=1)
    surface = get_surface("quadratic")
    paths = compute_paths(surface, exp.surface.specs()[:2], [(2.0,)], 3)
    exp.results.surface = SurfaceResult.from_paths(paths)
    row = {"epoch": 0, "train_loss": 1.0, "test_loss": 0.9, "train_acc": 0.5, "test_acc": 0.4}
    row |= {"lr": 0.1, "grad_norm": 1.5, "seconds": 0.0}
    weights = {"layers": [{"weight": [[0.1, 0.2]], "bias": [0.0]}]}
    exp.results.training = TrainingResult(config=TrainConfig().to_dict(), history=[row], weights=weights, path="x")
    run = {"label": {"lr": "0.1"}, "seed": 1, "config": TrainConfig().to_dict(), "history": [row, row]}
    exp.results.comparison = ComparisonResult(runs=[run | {"path": "p", "seconds": 0.5, "diverged_at": None}])
    exp.comparison.seeds = [1, 2]
    exp.surface.starts = [(1.0, 2.0)]
    return experiment_to_dict(exp)


BASE = _base_document()
assert experiment_from_dict(BASE).results.comparison.runs[0]["seed"] == 1

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["", "NaN", "-Infinity", "sgd", "formula", "csv:", "x**2", "\ud800", "1e12", "0,1", "(none)"]),
    st.sampled_from([10**30, -(10**400), 2**31, 1e308, -0.0, 5e-324, DEEP, HUGE]),
)
KEYS = sorted({k for section in BASE.values() if isinstance(section, dict) for k in section} | set(BASE))
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(KEYS) | st.text(max_size=6) | st.integers(-2, 2) | st.none(), inner, max_size=4
        )
    ),
    max_leaves=10,
)


def _leaves(value, path=()):
    """Yield the path of every node below the root (dict keys and list indexes)."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        yield (*path, key)
        yield from _leaves(child, (*path, key))


@st.composite
def mutated_documents(draw):
    doc = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_leaves(doc))
        *parent_path, key = draw(st.sampled_from(paths))
        parent = doc
        for step in parent_path:
            parent = parent[step]
        op = draw(st.sampled_from(["junk", "junk", "delete", "wrap", "number", "text", "deep", "huge"]))
        if op == "delete":
            del parent[key]
        elif op == "wrap":
            parent[key] = draw(st.sampled_from([[parent[key]], {"v": parent[key]}, str(parent[key])]))
        elif op == "number":
            parent[key] = draw(st.sampled_from([math.nan, math.inf, -1, 0, 1e12, 10**400, 2.5, True]))
        elif op == "text":
            parent[key] = draw(st.text(max_size=8))
        elif op in ("deep", "huge"):
            parent[key] = DEEP if op == "deep" else HUGE
        else:
            parent[key] = draw(json_values)
    if draw(st.booleans()):
        doc["descent_lab_experiment"] = draw(st.sampled_from([1, 2, 2, 2]))
    return doc


def _as_dict(value):
    """Return ``value`` with the markers replaced by a very deep list and a 5000-digit integer."""
    if value == DEEP:
        deep: list = []
        for _ in range(DEPTH):
            deep = [deep]
        return deep
    if value == HUGE:
        return 10**5000
    if isinstance(value, dict):
        return {k: _as_dict(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_dict(v) for v in value]
    return value


def _as_text(value) -> str:
    """Return ``value`` as JSON text (NaN literals allowed), markers replaced by deep nesting and huge digits."""
    text = json.dumps(value, allow_nan=True)
    return text.replace(json.dumps(DEEP), "[" * DEPTH + "]" * DEPTH).replace(json.dumps(HUGE), "9" * 5000)


def _loads_or_names_a_field(source) -> None:
    try:
        exp = load_experiment(source)
    except ExperimentError as err:
        assert err.message and "Input should" not in err.message
        assert err.field is None or isinstance(err.field, str)
        return
    assert isinstance(exp, Experiment)
    assert experiment_from_dict(json.loads(json.dumps(experiment_to_dict(exp), allow_nan=False))) == exp


FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


@pytest.mark.slow
@FUZZ
@given(mutated_documents())
def test_fuzz_mutated_documents_load_or_raise_experiment_error(doc):
    _loads_or_names_a_field(_as_dict(doc))
    _loads_or_names_a_field(_as_text(doc))


@pytest.mark.slow
@FUZZ
@given(st.one_of(json_values, st.dictionaries(st.sampled_from(KEYS), json_values, max_size=6)), st.sampled_from([1, 2]))
def test_fuzz_random_json_loads_or_raises_experiment_error(value, version):
    if isinstance(value, dict):
        value = {"descent_lab_experiment": version, **value}
    _loads_or_names_a_field(_as_dict(value))
    _loads_or_names_a_field(_as_text(value).encode())
    if isinstance(value, dict):
        _loads_or_names_a_field(_as_text(value))


def test_a_version_2_race_keeps_the_rates_it_ran_at_and_version_3_starts_each_from_its_training_rate():
    from engine.experiment import experiment_from_dict

    exp = Experiment()
    exp.comparison = load_section(
        ComparisonSpec,
        {"base": {"optimizer": "sgd"}, "vary": [{"field": "optimizer", "values": ["sgd", "momentum", "adam"]}]},
    )
    doc = experiment_to_dict(exp)
    assert doc["descent_lab_experiment"] == 3

    def rates(document):
        spec = experiment_from_dict(document).comparison
        return {label["optimizer"]: cfg.optimizer_params["lr"] for label, _, cfg in spec.to_comparison().runs()}

    assert rates(doc) == {"sgd": 0.1, "momentum": 0.1, "adam": 0.001}
    old = {**doc, "descent_lab_experiment": 2}  # saved before version 3: momentum beside SGD ran at 0.01
    assert rates(old) == {"sgd": 0.1, "momentum": 0.01, "adam": 0.001}
    old["comparison"] = {**old["comparison"], "per_optimizer": {"momentum": {"lr": 0.3}}}
    assert rates(old)["momentum"] == 0.3  # a rate of its own is kept as it was
