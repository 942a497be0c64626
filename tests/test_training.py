import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from engine.data.datasets import load_dataset
from engine.errors import UserError
from engine.optimizers import OPTIMIZERS, build_optimizer
from engine.schedulers import SCHEDULERS, LRDriver
from engine.training.config import LOSSES, TrainConfig
from engine.training.fused import FusedMLP
from engine.training.model import ACTIVATIONS, INITS, MLP, initialise, parse_layers
from engine.training.trainer import RunGroup, Trainer

SPIRAL = load_dataset("spiral")
SMALL = replace(TrainConfig(), points=60, epochs=5)  # 180 points: fast
SMALL_DATA = SMALL.load_data()


def losses(history, key="train_loss"):
    return np.array([getattr(h, key) for h in history], dtype=float)


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_every_activation_trains(activation):
    t = Trainer(replace(SMALL, activation=activation, epochs=3), SMALL_DATA)
    t.run()
    h = t.history
    assert len(h) == 4 and all(math.isfinite(r.train_loss) for r in h)
    if activation != "softmax":  # softmax as a hidden activation barely learns: a result to show
        assert h[-1].train_acc > h[0].train_acc + 0.05


def test_softmax_hidden_activation_is_worse_than_relu():
    cfg = replace(TrainConfig(), epochs=30, optimizer_params={"lr": 0.1, "momentum": 0.5})
    relu = Trainer(cfg, SPIRAL).run()[-1].train_acc
    soft = Trainer(replace(cfg, activation="softmax"), SPIRAL).run()[-1].train_acc
    assert soft < relu - 0.2


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("output", ["none", "sigmoid", "softmax"])
def test_every_loss_and_output_activation(loss, output):
    t = Trainer(replace(SMALL, loss=loss, output_activation=output, epochs=2), SMALL_DATA)
    t.run()
    assert len(t.history) == 3 and all(math.isfinite(r.train_loss) for r in t.history)


def test_single_output_binary_with_bce():
    data = load_dataset("breast-cancer")
    t = Trainer(
        TrainConfig(
            dataset="breast-cancer",
            layers=(30, 16, 1),
            loss="bce",
            optimizer="adam",
            optimizer_params={"lr": 0.01},
            epochs=5,
        ),
        data,
    )
    t.run()
    assert t.history[-1].test_acc > 0.9


@pytest.mark.parametrize("init", INITS)
def test_initialisations(init):
    m = MLP([4, 30, 3])
    initialise(m, init, torch.Generator().manual_seed(0))
    w = m.linears[0].weight
    if init == "zeros":
        assert float(w.detach().abs().sum()) == 0
    elif init == "normal":
        assert abs(float(w.detach().std()) - 0.05) < 0.01
    elif init == "xavier":
        assert float(w.detach().abs().max()) <= math.sqrt(6 / 34)
    elif init == "he":
        assert abs(float(w.detach().std()) - math.sqrt(2 / 4)) < 0.2
    else:
        assert float(w.detach().abs().max()) <= 0.5 and float(m.linears[0].bias.detach().abs().max()) <= 0.5


def test_zeros_init_is_symmetric_and_stays_so():
    t = Trainer(replace(SMALL, init="zeros", epochs=3), SMALL_DATA)
    t.run()
    w = torch.tensor(t.weights()["layers"][0]["weight"])
    assert torch.allclose(w, w[0].expand_as(w))  # every hidden unit identical: the classic symmetry problem


def test_dropout_batchnorm_l1_l2_train_and_are_reproducible():
    cfg = replace(SMALL, dropout=0.3, batchnorm=True, l1=1e-4, l2=1e-3)
    a, b = Trainer(cfg, SMALL_DATA), Trainer(cfg, SMALL_DATA)
    a.run(), b.run()
    assert a.path.startswith("autograd")
    np.testing.assert_array_equal(losses(a.history), losses(b.history))


def test_weights_round_trip_and_shape_errors(tmp_path):
    t = Trainer(SMALL, SMALL_DATA)
    t.run()
    saved = t.weights()
    assert [len(l["weight"]) for l in saved["layers"]] == [50, 3] and len(saved["layers"][0]["weight"][0]) == 2
    again = Trainer(replace(SMALL, epochs=1), SMALL_DATA, init_weights=saved)
    assert again.history[0].train_loss == pytest.approx(t.history[-1].train_loss, rel=1e-5)
    with pytest.raises(UserError, match="2 layers"):
        Trainer(replace(SMALL, layers=(2, 10, 10, 3)), SMALL_DATA, init_weights=saved)
    with pytest.raises(UserError, match="do not fit"):
        Trainer(replace(SMALL, layers=(2, 40, 3)), SMALL_DATA, init_weights=saved)


def test_fused_gradients_equal_autograd():
    torch.manual_seed(0)
    for act in ("relu", "tanh", "sigmoid", "leaky-relu"):
        m = MLP([2, 7, 5, 3], act).double()
        x, y = torch.randn(16, 2, dtype=torch.float64), torch.randint(0, 3, (16,))
        loss = (
            torch.nn.functional.cross_entropy(m.logits(x), y)
            + 0.01 * sum(l.weight.pow(2).sum() for l in m.linears)
            + 0.001 * sum(l.weight.abs().sum() for l in m.linears)
        )
        loss.backward()
        f = FusedMLP(
            [[l.weight.detach()] for l in m.linears],
            [[l.bias.detach()] for l in m.linears],
            act,
            torch.device("cpu"),
            [0.001],
            [0.01],
            dtype=torch.float64,
        )
        data_loss, _ = f.backward(x, y)
        with torch.no_grad():
            expected = float(torch.nn.functional.cross_entropy(m.logits(x), y))
        assert float(data_loss[0]) == pytest.approx(expected, rel=1e-12)
        for l, gw, gb in zip(m.linears, f.gW, f.gB):
            torch.testing.assert_close(gw[0], l.weight.grad, rtol=1e-10, atol=1e-12)
            torch.testing.assert_close(gb[0], l.bias.grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("opt_id", OPTIMIZERS.ids())
def test_fused_training_matches_plain_torch_loop(opt_id):
    """The engine against a notebook-style loop (nn.Module + torch.optim + shuffled batches), in float64."""
    cfg = replace(SMALL, optimizer=opt_id, optimizer_params={"lr": 0.05}, epochs=3)
    t = Trainer(cfg, SMALL_DATA)
    assert t.path.startswith("fused")
    t.run()
    m = MLP([2, 50, 3])
    initialise(m, "default", torch.Generator().manual_seed(cfg.seed))
    m = m.double()
    opt = build_optimizer(opt_id, m.parameters(), {"lr": 0.05})
    g = torch.Generator().manual_seed(cfg.seed)
    x, y = SMALL_DATA.x_train.double(), SMALL_DATA.y_train
    for _ in range(3):
        order = torch.randperm(len(x), generator=g)
        for b in range(0, len(x), 20):
            idx = order[b : b + 20]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(m.logits(x[idx]), y[idx]).backward()
            opt.step()
    with torch.no_grad():
        ref = float(torch.nn.functional.cross_entropy(m.logits(x), y))
    assert t.history[-1].train_loss == pytest.approx(ref, rel=1e-9)


def test_five_momentum_comparison_batched_equals_per_run_after_100_epochs():
    base = replace(TrainConfig(), epochs=100, optimizer_params={"lr": 0.1})
    cfgs = [base.with_field("momentum", m) for m in (0, 0.1, 0.2, 0.4, 0.5)]
    group = RunGroup(cfgs, SPIRAL)
    assert group.path in ("fused, vectorized SGD", "fused, numba kernel")  # numba where installed: a long run
    group.run()
    for cfg, hist in zip(cfgs, group.histories):
        alone = Trainer(cfg, SPIRAL).run()
        assert len(hist) == len(alone) == 101
        np.testing.assert_allclose(losses(hist), losses(alone), rtol=0, atol=1e-6)
        np.testing.assert_allclose(losses(hist, "train_acc"), losses(alone, "train_acc"), atol=1e-9)
    finals = [h[-1].train_loss for h in group.histories]
    assert finals == sorted(finals, reverse=True)  # on this problem more momentum ends lower


def test_batched_other_optimizers_equal_per_run():
    base = replace(SMALL, epochs=4)
    cfgs = [base.with_field("optimizer", o) for o in ("adam", "rmsprop", "adagrad", "nadam")]
    group = RunGroup(cfgs, SMALL_DATA)
    assert group.path == "fused, per-run torch.optim"
    group.run()
    for cfg, hist in zip(cfgs, group.histories):
        np.testing.assert_allclose(losses(hist), losses(Trainer(cfg, SMALL_DATA).run()), atol=1e-9)


def test_fair_start_identical_weights_and_batches():
    base = replace(SMALL, epochs=2)
    runs = [Trainer(base.with_field("optimizer", o), SMALL_DATA) for o in ("sgd", "adam", "rmsprop")]
    epoch0 = {r.history[0].train_loss for r in runs}
    assert len(epoch0) == 1
    a = Trainer(base, SMALL_DATA).run()
    b = Trainer(base.with_field("dampening", 0.0).with_field("weight_decay", 0), SMALL_DATA).run()  # no-op changes
    np.testing.assert_array_equal(losses(a), losses(b))
    c = Trainer(base.with_field("seed", 7), SMALL_DATA).run()
    assert c[0].train_loss != a[0].train_loss


def test_stop_and_resume_give_the_uninterrupted_history():
    cfg = replace(SMALL, epochs=4, scheduler="onecycle")
    ref = Trainer(cfg, SMALL_DATA).run()
    t = Trainer(cfg, SMALL_DATA)
    calls = {"n": 0}

    def stop_every_third_batch():
        calls["n"] += 1
        return calls["n"] % 3 == 0

    stops = 0
    while not t.finished:
        if t.run_epoch(stop_every_third_batch) is None:
            stops += 1
    assert stops > 5
    np.testing.assert_array_equal(losses(t.history), losses(ref))
    np.testing.assert_array_equal(losses(t.history, "lr"), losses(ref, "lr"))


def test_autograd_path_stop_and_resume():
    cfg = replace(SMALL, epochs=3, dropout=0.2)
    ref = Trainer(cfg, SMALL_DATA).run()
    t = Trainer(cfg, SMALL_DATA)
    flip = {"n": 0}
    while not t.finished:
        flip["n"] += 1
        t.run_epoch(lambda: flip["n"] % 2 == 1 and t.batch_in_epoch == 4)
    np.testing.assert_array_equal(losses(t.history), losses(ref))


@pytest.mark.parametrize("sched", [e.id for e in SCHEDULERS])
def test_each_scheduler_lr_sequence_matches_torch(sched):
    cfg = replace(SMALL, epochs=12, scheduler=sched, optimizer="momentum", optimizer_params={"lr": 0.1})
    t = Trainer(cfg, SMALL_DATA)
    t.run()
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.1, momentum=0.9)
    per_batch = SCHEDULERS.get(sched).extra["per_batch"]
    bpe = t.batches_per_epoch
    driver = LRDriver(opt, sched, {}, 12 * (bpe if per_batch else 1))
    expected = []
    for epoch in range(12):
        for _ in range(bpe):
            expected.append(opt.param_groups[0]["lr"])
            opt.step()
            if per_batch:
                driver.step()
        if not per_batch:
            driver.step(t.history[epoch + 1].train_loss)
    np.testing.assert_allclose(t.lr_trace, expected, rtol=1e-12)
    np.testing.assert_allclose([h.lr for h in t.history[1:]], expected[::bpe], rtol=1e-12)
    if sched not in ("none", "plateau"):  # plateau may legitimately hold the rate over 12 epochs
        assert len(set(np.round(expected, 12))) > 1


def test_divergence_is_a_result_not_a_crash():
    # an L2 penalty of 1 at lr 10 multiplies the weights by -19 a step: overflow within a few epochs
    cfg = replace(SMALL, epochs=20, optimizer_params={"lr": 10.0}, l2=1.0)
    t = Trainer(cfg, SMALL_DATA)
    assert t.path.startswith("fused")
    t.run()
    assert t.diverged_at is not None and t.finished
    assert len(t.history) == t.diverged_at + 1
    assert math.isnan(t.history[-1].train_loss)
    auto = Trainer(replace(cfg, dropout=0.1), SMALL_DATA)
    auto.run()
    assert auto.diverged_at is not None and math.isnan(auto.history[-1].train_loss)


def test_group_keeps_training_the_others_after_one_diverges():
    base = replace(SMALL, epochs=6, init="normal")
    cfgs = [base.with_field("lr", 10.0).with_field("l2", 1.0), base.with_field("lr", 0.1)]
    g = RunGroup(cfgs, SMALL_DATA)
    g.run()
    assert g.diverged_at[0] is not None and g.diverged_at[1] is None
    assert len(g.histories[1]) == 7


def test_bad_configurations_are_refused():
    with pytest.raises(UserError, match="inputs"):
        Trainer(replace(SMALL, layers=(3, 10, 3)), SMALL_DATA)
    with pytest.raises(UserError, match="outputs"):
        Trainer(replace(SMALL, layers=(2, 10, 4)), SMALL_DATA)
    with pytest.raises(UserError, match="activation"):
        Trainer(replace(SMALL, activation="swish"), SMALL_DATA)
    with pytest.raises(UserError, match="momentum"):
        Trainer(SMALL.with_field("momentum", 1.5), SMALL_DATA)


@pytest.mark.parametrize(
    "make, field",
    [
        (lambda: Trainer(replace(SMALL, layers=(3, 10, 3)), SMALL_DATA), "layers"),
        (lambda: Trainer(replace(SMALL, layers=(2, 10, 4)), SMALL_DATA), "layers"),
        (lambda: Trainer(replace(SMALL, layers=(2, 10, 1)), SMALL_DATA), "layers"),
        (lambda: Trainer(replace(SMALL, dropout=2.0), SMALL_DATA), "dropout"),
        (lambda: Trainer(replace(SMALL, epochs=0), SMALL_DATA), "epochs"),
        (lambda: Trainer(replace(SMALL, batch_size=-1), SMALL_DATA), "batch_size"),
        (lambda: Trainer(replace(SMALL, device="tpu"), SMALL_DATA), "device"),
        (lambda: Trainer(replace(SMALL, loss="hinge"), SMALL_DATA), "loss"),
        (lambda: Trainer(replace(SMALL, init="ones"), SMALL_DATA), "init"),
        (lambda: parse_layers("2,x,3"), "layers"),
        (lambda: parse_layers("2"), "layers"),
        (lambda: SMALL.with_field("epochs", "many"), "epochs"),
        (lambda: Trainer(SMALL, SMALL_DATA, init_weights={"layers": []}), "init_weights"),
    ],
)
def test_errors_name_their_field_and_no_flag(make, field):
    with pytest.raises(UserError) as info:
        make()
    assert info.value.field == field and "--" not in info.value.message


def test_cuda_requested_but_absent_is_a_clear_message():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present; covered by test_cuda_training")
    with pytest.raises(UserError, match="CUDA was requested"):
        Trainer(replace(SMALL, device="cuda"), SMALL_DATA)
    assert Trainer(replace(SMALL, device="auto"), SMALL_DATA).device.type == "cpu"


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine (CI never has one)")
def test_cuda_training():
    cpu = Trainer(replace(SMALL, device="cpu"), SMALL_DATA).run()
    gpu = Trainer(replace(SMALL, device="cuda"), SMALL_DATA).run()
    np.testing.assert_allclose(losses(gpu), losses(cpu), rtol=1e-6)


def test_mnist_adam_reaches_90_percent_in_a_few_epochs(mnist_dir):
    cfg = TrainConfig(
        dataset="mnist",
        data_dir=str(mnist_dir),
        layers=(784, 40, 40, 40, 10),
        optimizer="adam",
        optimizer_params={"lr": 0.001},
        batch_size=50,
        epochs=4,
    )
    t = Trainer(cfg)
    t.run()
    assert t.history[-1].test_acc >= 0.90


# -- divergence at epoch 0 and 1, malformed weights documents --------------------------------------------------


def _huge_weights():
    w = Trainer(replace(SMALL, epochs=1), SMALL_DATA).weights()
    w["layers"][0]["weight"] = [[3e38, 3e38] for _ in range(50)]  # finite float32, the loss overflows it
    w["layers"][1]["weight"] = [[3e38] * 50 for _ in range(3)]
    return w


@pytest.mark.parametrize("dropout", [0.0, 0.1])  # fused and autograd
def test_a_loss_not_finite_before_training_is_divergence_at_epoch_0(dropout):
    from engine.data.datasets import Dataset
    from engine.training.records import divergence_text

    x = SMALL_DATA.x_train.clone()
    x[3, 0] = float("inf")  # a data set built in code can hold anything: the loaders refuse this
    data = Dataset("inf", x, SMALL_DATA.y_train, SMALL_DATA.x_test, SMALL_DATA.y_test, 3)
    t = Trainer(replace(SMALL, dropout=dropout), data)
    t.run()
    assert t.diverged_at == 0 and t.epoch == 0 and len(t.history) == 1 and math.isnan(t.history[0].train_loss)
    assert t.divergence == divergence_text(0) and "not finite before training" in t.divergence
    assert "check the data or the weights" in t.divergence
    if dropout:  # the autograd path computes in float32: weights of 3e38 overflow its loss at once
        t = Trainer(replace(SMALL, dropout=dropout), SMALL_DATA, init_weights=_huge_weights())
        t.run()
        assert t.diverged_at == 0 and t.divergence.startswith("diverged at epoch 0 (")


@pytest.mark.parametrize("dropout", [0.0, 0.1])
def test_a_loss_not_finite_after_the_first_epoch_is_divergence_at_epoch_1(dropout):
    from engine.data.datasets import Dataset

    d = SMALL_DATA
    data = Dataset("x1000", d.x_train * 1000, d.y_train, d.x_test, d.y_test, 3)  # lr 10 on inputs of ~1000
    t = Trainer(replace(SMALL, dropout=dropout, optimizer_params={"lr": 10}), data)
    t.run()
    assert t.diverged_at == 1 and t.epoch == 1 and t.divergence == "diverged at epoch 1"
    assert math.isfinite(t.history[0].train_loss) and math.isnan(t.history[1].train_loss)
    finished = Trainer(replace(SMALL, epochs=1), SMALL_DATA)
    finished.run()
    assert finished.diverged_at is None and finished.divergence is None


def _write(tmp_path, name, doc):
    import json

    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return str(path)


def test_malformed_weights_files_name_the_file_and_the_layer(tmp_path, monkeypatch):
    from engine.training import model
    from engine.training.model import load_weights_file

    good = Trainer(replace(SMALL, epochs=1), SMALL_DATA).weights()

    def layer0(**entry):
        return {"layers": [{**good["layers"][0], **entry}, good["layers"][1]]}

    cases = {
        "deep.json": ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        "deep2.json": ({"layers": [{"weight": [[[[[[[[[[1]]]]]]]]]], "bias": [1]}]}, "layer 0: 'weight' must be"),
        "text.json": ("not json", "is not valid JSON"),
        "list.json": ([1, 2], "not an array"),
        "nolayers.json": ({"weights": []}, '"layers"'),
        "nan.json": (layer0(bias=[float("nan")] * 50), "layer 0: 'bias' holds NaN"),
        "inf.json": (layer0(bias=[1e39] * 50), "beyond the 32-bit float range"),
        "bigint.json": (layer0(bias=[10**400] * 50), "layer 0: 'bias' must be a list of numbers"),
        "strings.json": (layer0(bias=["0.5"] * 50), "layer 0: 'bias' must be a list of numbers"),
        "ragged.json": (layer0(weight=[[1.0, 2.0], [3.0]] * 25), "rows of 'weight' differ in length"),
        "dicts.json": (layer0(weight=[{"a": 1}] * 50), "'weight' must be a list of rows of numbers"),
        "chain.json": ({"layers": [good["layers"][0], {"weight": [[1.0]], "bias": [0.0]}]}, "layer 1 takes 1 inputs"),
        "biases.json": (layer0(bias=[0.0] * 3), "3 biases for 50 weight rows"),
        "missing.json": (layer0(weight=None), "layer 0: 'weight' must be"),
    }
    for name, (doc, message) in cases.items():
        with pytest.raises(UserError, match=message) as info:
            load_weights_file(_write(tmp_path, name, doc))
        assert info.value.field == "init_weights" and name in info.value.message, name
        if isinstance(doc, dict):  # documents given in code get the same checks
            with pytest.raises(UserError, match=message) as info:
                Trainer(SMALL, SMALL_DATA, init_weights=doc)
            assert info.value.field == "init_weights" and info.value.message.startswith("weights "), name
    small = load_weights_file(_write(tmp_path, "small.json", {"layers": [{"weight": [[1.0, 2.0]], "bias": [0.5]}]}))
    with pytest.raises(UserError, match=r"weights in .*small.json have 1 layers; the network 2,50,3 has 2"):
        Trainer(SMALL, SMALL_DATA, init_weights=small)
    monkeypatch.setattr(model, "MAX_WEIGHTS_BYTES", 100)
    with pytest.raises(UserError, match="GiB can be read"):
        load_weights_file(_write(tmp_path, "large.json", good))
