"""The training-configuration form: data set, network, optimizer, schedule and run settings."""

from __future__ import annotations

import pyqtgraph as pg
import torch
from PySide6 import QtCore, QtWidgets

from engine.errors import UserError
from engine.optimizers import OPTIMIZERS, training_defaults
from engine.schedulers import SCHEDULERS
from engine.training.config import LOSSES, TrainConfig
from engine.training.model import ACTIVATIONS, INITS, OUTPUT_ACTIVATIONS, parse_layers
from gui.views.forms import RegistryPicker

DATASETS = [
    ("spiral", "Spiral (the seeds')"),
    ("mnist", "MNIST"),
    ("fashion-mnist", "Fashion-MNIST"),
    ("digits", "Digits 8×8 (scikit-learn)"),
    ("iris", "Iris"),
    ("breast-cancer", "Breast cancer"),
    ("csv", "CSV file…"),
]
FEATURES = {"spiral": 2, "mnist": 784, "fashion-mnist": 784, "digits": 64, "iris": 4, "breast-cancer": 30}
CLASSES = {"mnist": 10, "fashion-mnist": 10, "digits": 10, "iris": 3, "breast-cancer": 2}


def _combo(items, tip: str) -> QtWidgets.QComboBox:
    c = QtWidgets.QComboBox()
    c.addItems(list(items))
    c.setToolTip(tip)
    return c


def _exact(lo, hi, tip):
    """Return a number field that keeps tiny values exactly (pyqtgraph's SpinBox, scientific where shorter)."""
    w = pg.SpinBox(value=0.0, bounds=(lo, hi), dec=True, step=0.5, minStep=1e-12, decimals=6, compactHeight=False)
    w.setToolTip(tip)
    return w


def _spin(lo, hi, value, tip, decimals=None, step=None, special=None):
    s = QtWidgets.QDoubleSpinBox() if decimals is not None else QtWidgets.QSpinBox()
    if decimals is not None:
        s.setDecimals(decimals)
    s.setRange(lo, hi)
    s.setValue(value)
    if step:
        s.setSingleStep(step)
    if special:
        s.setSpecialValueText(special)
    s.setToolTip(tip)
    return s


class ConfigForm(QtWidgets.QWidget):
    """Every training option; ``config()`` returns a validated TrainConfig or raises UserError."""

    changed = QtCore.Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        outer = QtWidgets.QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)

        box = QtWidgets.QGroupBox("Data")
        f = QtWidgets.QFormLayout(box)
        self.dataset = QtWidgets.QComboBox()
        for key, label in DATASETS:
            self.dataset.addItem(label, key)
        self.dataset.setToolTip("What to learn")
        self.classes = _spin(2, 10, 3, "Spiral arms (classes)")
        self.points = _spin(2, 100000, 500, "Points per arm")
        self.noise = _spin(0, 10, 0.2, "Angular noise of the spiral", decimals=3, step=0.05)
        self.folder = QtWidgets.QLineEdit()
        self.folder.setPlaceholderText("folder with the IDX files (blank: search the usual places)")
        self.folder.setToolTip(
            "train-/t10k-images-idx3-ubyte(.gz) and -labels-idx1-ubyte(.gz); the two t10k files alone are enough"
        )
        self.browse = QtWidgets.QPushButton("Browse…")
        self.browse.setToolTip("Choose the folder (MNIST, Fashion-MNIST) or the CSV file")
        folder_row = QtWidgets.QHBoxLayout()
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(self.browse)
        self.target = QtWidgets.QLineEdit()
        self.target.setPlaceholderText("target column")
        self.target.setToolTip("CSV: the column holding the class (integers) or the numeric target")
        self.test_fraction = _spin(
            -0.01,
            0.9,
            -0.01,
            "Share held out for testing (default: 0 for the spiral, 0.2 otherwise)",
            decimals=2,
            step=0.05,
            special="default",
        )
        self.standardize = QtWidgets.QCheckBox("standardize features")
        self.standardize.setToolTip("Scale every feature to mean 0 and standard deviation 1 (training statistics)")
        f.addRow("data set", self.dataset)
        self.spiral_rows = [("arms", self.classes), ("points per arm", self.points), ("noise", self.noise)]
        for label, w in self.spiral_rows:
            f.addRow(label, w)
        self.folder_label = QtWidgets.QLabel("files")
        f.addRow(self.folder_label, folder_row)
        self.target_label = QtWidgets.QLabel("target")
        f.addRow(self.target_label, self.target)
        f.addRow("test share", self.test_fraction)
        f.addRow("", self.standardize)
        self._data_form = f
        outer.addWidget(box)

        box = QtWidgets.QGroupBox("Network")
        f = QtWidgets.QFormLayout(box)
        self.layers = QtWidgets.QLineEdit("2,50,3")
        self.layers.setToolTip("Layer sizes from input to output, e.g. 2,50,3 or 784,40,40,40,10")
        self.activation = _combo(ACTIVATIONS, "Hidden activation (softmax here is a known failure: try it)")
        self.output_activation = _combo(OUTPUT_ACTIVATIONS, "Applied to the last layer's output")
        self.loss = _combo(LOSSES, "Training loss")
        self.init = _combo(INITS, "Weight initialisation (zeros keeps every hidden unit identical)")
        self.dropout = _spin(0, 0.99, 0, "Dropout after each hidden layer", decimals=3, step=0.05)
        self.batchnorm = QtWidgets.QCheckBox("batch norm")
        self.batchnorm.setToolTip("Batch normalisation after each hidden linear layer")
        self.l1 = _exact(0, 10, "L1 penalty on the weights (exact: 1e-6 stays 1e-6)")
        self.l2 = _exact(0, 10, "L2 penalty on the weights (exact: 1e-6 stays 1e-6)")
        for label, w in (
            ("layers", self.layers),
            ("activation", self.activation),
            ("output", self.output_activation),
            ("loss", self.loss),
            ("init", self.init),
            ("dropout", self.dropout),
            ("", self.batchnorm),
            ("L1", self.l1),
            ("L2", self.l2),
        ):
            f.addRow(label, w)
        outer.addWidget(box)

        box = QtWidgets.QGroupBox("Optimizer")
        v = QtWidgets.QVBoxLayout(box)
        self.optimizer = RegistryPicker(OPTIMIZERS, "Optimizer", defaults=training_defaults)
        self.optimizer.form.set_values({"lr": 0.1})
        v.addWidget(self.optimizer)
        outer.addWidget(box)
        box = QtWidgets.QGroupBox("Learning-rate schedule")
        v = QtWidgets.QVBoxLayout(box)
        self.scheduler = RegistryPicker(SCHEDULERS, "Schedule")
        v.addWidget(self.scheduler)
        outer.addWidget(box)

        box = QtWidgets.QGroupBox("Run")
        f = QtWidgets.QFormLayout(box)
        self.batch_size = _spin(0, 1000000, 20, "Samples per batch (full = the whole training set)", special="full")
        self.epochs = _spin(1, 100000, 100, "Epochs to train")
        self.seed = _spin(0, 2**31 - 1, 1, "Seed for the data split, the initial weights and the batch order")
        self.shuffle = QtWidgets.QCheckBox("shuffle batches")
        self.shuffle.setChecked(True)
        self.shuffle.setToolTip("The spiral is sorted by class: without shuffling each batch holds one class")
        self.device = QtWidgets.QComboBox()
        self.device.addItem("CPU", "cpu")
        self.device.addItem("CUDA", "cuda")
        if not torch.cuda.is_available():
            item = self.device.model().item(1)
            item.setEnabled(False)
            item.setToolTip("CUDA is not available (this torch build or machine has no GPU)")
            self.device.setToolTip("CUDA is not available on this machine")
        else:
            self.device.setToolTip("Where to train")
        for label, w in (
            ("batch size", self.batch_size),
            ("epochs", self.epochs),
            ("seed", self.seed),
            ("", self.shuffle),
            ("device", self.device),
        ):
            f.addRow(label, w)
        outer.addWidget(box)
        outer.addStretch(1)

        self.dataset.currentIndexChanged.connect(self._dataset_changed)
        self.browse.clicked.connect(self._browse)
        for w in (
            self.classes,
            self.points,
            self.noise,
            self.test_fraction,
            self.dropout,
            self.l1,
            self.l2,
            self.batch_size,
            self.epochs,
            self.seed,
        ):
            w.valueChanged.connect(self.changed)
        for w in (self.folder, self.target, self.layers):
            w.textChanged.connect(self.changed)
        for w in (self.activation, self.output_activation, self.loss, self.init, self.device):
            w.currentIndexChanged.connect(self.changed)
        for w in (self.standardize, self.batchnorm, self.shuffle):
            w.toggled.connect(self.changed)
        self.optimizer.changed.connect(self.changed)
        self.scheduler.changed.connect(self.changed)
        self._dataset_changed()

    def _dataset_changed(self, *_):
        key = self.dataset.currentData()
        for _label, w in self.spiral_rows:
            self._data_form.setRowVisible(w, key == "spiral")
        self._data_form.setRowVisible(self.target, key == "csv")
        self.folder_label.setText("CSV file" if key == "csv" else "folder")
        for w in (self.folder, self.browse, self.folder_label):
            w.setVisible(key in ("mnist", "fashion-mnist", "csv"))
        if key in FEATURES:
            classes = self.classes.value() if key == "spiral" else CLASSES[key]
            hidden = "40,40,40" if key in ("mnist", "fashion-mnist") else "50"
            self.layers.setText(f"{FEATURES[key]},{hidden},{classes}")
        self.changed.emit()

    def _browse(self):
        if self.dataset.currentData() == "csv":
            path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "CSV file", "", "CSV (*.csv);;All files (*)")
        else:
            path = QtWidgets.QFileDialog.getExistingDirectory(self, "Folder with the IDX files")
        if path:
            self.folder.setText(path)

    def config(self) -> TrainConfig:
        """Return the validated configuration, or raise UserError naming the problem."""
        key = self.dataset.currentData()
        if key == "csv" and not self.folder.text().strip():
            raise UserError("choose a CSV file (Browse…)", "dataset")
        layers = parse_layers(self.layers.text())
        if key == "spiral" and layers[-1] != self.classes.value() and self.loss.currentText() == "cross-entropy":
            raise UserError(
                f"the last layer has {layers[-1]} outputs but the spiral has {self.classes.value()} arms", "layers"
            )
        cfg = TrainConfig(
            dataset=f"csv:{self.folder.text().strip()}" if key == "csv" else key,
            data_dir=self.folder.text().strip() or None if key in ("mnist", "fashion-mnist") else None,
            classes=self.classes.value(),
            points=self.points.value(),
            noise=self.noise.value(),
            target=self.target.text().strip() or None,
            standardize=True if self.standardize.isChecked() else None,
            test_fraction=None if self.test_fraction.value() < 0 else self.test_fraction.value(),
            layers=tuple(layers),
            activation=self.activation.currentText(),
            output_activation=self.output_activation.currentText(),
            loss=self.loss.currentText(),
            init=self.init.currentText(),
            dropout=self.dropout.value(),
            batchnorm=self.batchnorm.isChecked(),
            l1=float(self.l1.value()),
            l2=float(self.l2.value()),
            optimizer=self.optimizer.current_id(),
            optimizer_params=self.optimizer.values(),
            scheduler=self.scheduler.current_id(),
            scheduler_params=self.scheduler.values(),
            batch_size=self.batch_size.value(),
            epochs=self.epochs.value(),
            seed=self.seed.value(),
            shuffle=self.shuffle.isChecked(),
            device=self.device.currentData(),
        )
        return cfg.validated()

    def field_controls(self) -> dict[str, tuple[str, QtWidgets.QWidget]]:
        """Return each configuration field's words and control, for showing an error at its place."""
        return {
            "dataset": ("Data set", self.dataset),
            "data_dir": ("Data folder", self.folder),
            "classes": ("Arms", self.classes),
            "points": ("Points per arm", self.points),
            "noise": ("Noise", self.noise),
            "target": ("Target column", self.target),
            "test_fraction": ("Test share", self.test_fraction),
            "standardize": ("Standardize", self.standardize),
            "layers": ("Layers", self.layers),
            "activation": ("Activation", self.activation),
            "output_activation": ("Output", self.output_activation),
            "loss": ("Loss", self.loss),
            "init": ("Init", self.init),
            "dropout": ("Dropout", self.dropout),
            "batchnorm": ("Batch norm", self.batchnorm),
            "l1": ("L1", self.l1),
            "l2": ("L2", self.l2),
            "optimizer": ("Optimizer", self.optimizer),
            "optimizer_params.lr": ("Learning rate", self.optimizer.form),
            "optimizer_params": ("Optimizer settings", self.optimizer.form),
            "scheduler": ("Schedule", self.scheduler),
            "scheduler_params": ("Schedule settings", self.scheduler.form),
            "batch_size": ("Batch size", self.batch_size),
            "epochs": ("Epochs", self.epochs),
            "seed": ("Seed", self.seed),
            "shuffle": ("Shuffle", self.shuffle),
            "device": ("Device", self.device),
        }

    def set_config(self, cfg: TrainConfig) -> None:
        """Show ``cfg`` in the form; ``changed`` fires once at the end, not per control."""
        self.blockSignals(True)
        try:
            self._show(cfg)
        finally:
            self.blockSignals(False)
        self.changed.emit()

    def _show(self, cfg: TrainConfig) -> None:
        key = "csv" if cfg.dataset.startswith("csv:") else cfg.dataset
        self.dataset.setCurrentIndex(max(0, self.dataset.findData(key)))
        self.folder.setText(cfg.dataset[4:] if key == "csv" else (cfg.data_dir or ""))
        self.classes.setValue(cfg.classes)
        self.points.setValue(cfg.points)
        self.noise.setValue(cfg.noise)
        self.target.setText(cfg.target or "")
        self.standardize.setChecked(bool(cfg.standardize))
        self.test_fraction.setValue(-0.01 if cfg.test_fraction is None else cfg.test_fraction)
        self.layers.setText(",".join(map(str, cfg.layers)))
        for combo, value in (
            (self.activation, cfg.activation),
            (self.output_activation, cfg.output_activation),
            (self.loss, cfg.loss),
            (self.init, cfg.init),
        ):
            combo.setCurrentText(value)
        self.dropout.setValue(cfg.dropout)
        self.batchnorm.setChecked(cfg.batchnorm)
        self.l1.setValue(cfg.l1)
        self.l2.setValue(cfg.l2)
        self.optimizer.set_current(cfg.optimizer, cfg.optimizer_params)
        self.scheduler.set_current(cfg.scheduler, cfg.scheduler_params)
        self.batch_size.setValue(cfg.batch_size)
        self.epochs.setValue(cfg.epochs)
        self.seed.setValue(cfg.seed)
        self.shuffle.setChecked(cfg.shuffle)
        self.device.setCurrentIndex(max(0, self.device.findData("cuda" if cfg.device == "cuda" else "cpu")))
