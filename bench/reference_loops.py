"""Reference loops written the way the seeds' notebooks train (the baselines the benchmarks divide by)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset


class SpiralSet(Dataset):
    """Per-sample access, as the notebooks' Dataset classes do."""

    def __init__(self, x: np.ndarray, y: np.ndarray):
        self.x = torch.tensor(x, dtype=torch.float32)
        self.y = torch.tensor(y, dtype=torch.long)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


class Net(nn.Module):
    """Linear layers with ReLU between, built from a size list."""

    def __init__(self, sizes):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))

    def forward(self, x):
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = torch.relu(x)
        return x


def notebook_momentum_loop(x, y, momenta, epochs=100, lr=0.1, batch=20, seed=1):
    """Train one Net[2,50,3] per momentum with a DataLoader and per-epoch accuracy; return final losses."""
    data = SpiralSet(x, y)
    finals = []
    for m in momenta:
        torch.manual_seed(seed)
        model = Net([2, 50, 3])
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=m)
        loader = DataLoader(data, batch_size=batch, shuffle=True)
        criterion = nn.CrossEntropyLoss()
        for _ in range(epochs):
            for xb, yb in loader:
                opt.zero_grad()
                loss = criterion(model(xb), yb)
                loss.backward()
                opt.step()
            with torch.no_grad():
                (model(data.x).argmax(1) == data.y).float().mean().item()
        finals.append(loss.item())
    return finals


def dataloader_mnist_epoch(
    x: torch.Tensor, y: torch.Tensor, x_test: torch.Tensor, y_test: torch.Tensor, batch=50, seed=1
):
    """One epoch of 784-40-40-40-10 Adam through a DataLoader, then train and test loss and accuracy
    (what the seeds record every epoch); return the test accuracy."""
    torch.manual_seed(seed)
    model = Net([784, 40, 40, 40, 10])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    criterion = nn.CrossEntropyLoss()
    for xb, yb in DataLoader(TensorDataset(x, y), batch_size=batch, shuffle=True):
        opt.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        opt.step()
    with torch.no_grad():
        for xs, ys in ((x, y), (x_test, y_test)):
            z = model(xs)
            criterion(z, ys).item()
            acc = (z.argmax(1) == ys).float().mean().item()
    return acc
