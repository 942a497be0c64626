"""engine/threads.py: one torch thread for small fused models, every core for large matrix products."""

from __future__ import annotations

from dataclasses import replace

import torch

from engine.jobs import Token, run_job
from engine.threads import LARGE_STEP_MACS, available_cores, threads_for, threads_for_configs, use_threads
from engine.training.config import TrainConfig
from engine.training.jobs import prepare_job, train_job


def test_small_models_get_one_thread():
    assert threads_for([2, 50, 3], 20, runs=5, cores=8) == 1  # the seeds' spiral comparison
    assert threads_for([2, 50, 3], 1500, runs=5, cores=8) == 1  # full batch: many rows, tiny matrices
    assert threads_for([4, 16, 3], 120, cores=8) == 1


def test_large_matrix_products_get_every_core():
    assert threads_for([784, 40, 40, 40, 10], 50, cores=8) == 8  # MNIST-sized: 1.7M multiply-adds per step
    assert threads_for([784, 512, 512, 10], 256, cores=2) == 2
    assert threads_for([784, 40, 10], 1, cores=8) == 1  # one row per step: too little to share out


def test_threshold_is_the_step_work():
    layers = [256, 256]  # 65,536 multiply-adds per row, a large matrix
    rows = LARGE_STEP_MACS // (256 * 256)
    assert threads_for(layers, rows, cores=4) == 4
    assert threads_for(layers, rows - 1, cores=4) == 1
    assert threads_for(layers, rows // 2, runs=2, cores=4) == 4  # runs count like rows


def test_cuda_and_one_core_use_one_thread():
    assert threads_for([784, 512, 512, 10], 256, device="cuda", cores=8) == 1
    assert threads_for([784, 512, 512, 10], 256, device="cuda:0", cores=8) == 1
    assert threads_for([784, 512, 512, 10], 256, cores=1) == 1


def test_configs_resolve_the_full_batch():
    cfg = TrainConfig(layers=(784, 40, 10), batch_size=0, device="cpu")
    assert threads_for_configs([cfg], 60000) == available_cores()  # the full batch of 60,000 rows is large
    small = replace(cfg, batch_size=1)
    assert threads_for_configs([small], 60000) == 1


def test_use_threads_returns_the_previous_count():
    before = torch.get_num_threads()
    try:
        assert use_threads(1) == before
        assert torch.get_num_threads() == 1
        assert use_threads(1) == 1
    finally:
        torch.set_num_threads(before)


def test_training_job_sets_one_thread_for_the_spiral():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        cfg = replace(TrainConfig(), points=20, epochs=2, optimizer_params={"lr": 0.1})
        token = Token()
        trainer = run_job(prepare_job(cfg, token))
        assert torch.get_num_threads() == 1
        torch.set_num_threads(2)
        assert run_job(train_job(trainer, token)) == "finished"
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
