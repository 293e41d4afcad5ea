"""The thread policy: workers x threads never exceed the cores, whatever is left unset."""

from __future__ import annotations

import pytest
import torch

from bench.errors import UserError
from bench.thread_policy import WORKERS_ENV, ThreadBudgetError, cpu_cores, resolve_parallelism

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


@pytest.fixture
def no_env_workers(monkeypatch):
    monkeypatch.delenv(WORKERS_ENV, raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)


@pytest.mark.parametrize("cores", [1, 2, 3, 8, 64])
@pytest.mark.parametrize("workers", [None, 1, 2, 4])
@pytest.mark.parametrize("threads", [None, 1, 2])
def test_chosen_values_fit_the_cores(cores, workers, threads, no_env_workers):
    if workers is not None and threads is not None and workers > 1 and workers * threads > cores:
        with pytest.raises(ThreadBudgetError, match="lower --workers"):
            resolve_parallelism(CPU, workers, threads, cores=cores)
        return
    p = resolve_parallelism(CPU, workers, threads, cores=cores)
    assert p.workers == (workers or max(1, cores // (threads or 1)))
    assert p.threads == (threads or max(1, cores // p.workers))
    if workers is None or threads is None:  # what the policy chose stays within the budget (or one thread per worker asked)
        assert p.workers * p.threads <= max(cores, threads or 1, workers or 1)


def test_defaults_one_worker_per_core_and_one_per_gpu(no_env_workers):
    assert resolve_parallelism(CPU, cores=2) == resolve_parallelism(CPU, None, 1, cores=2)
    assert (resolve_parallelism(CPU, cores=2).workers, resolve_parallelism(CPU, cores=2).threads) == (2, 1)
    gpu = resolve_parallelism(CUDA, cores=16, gpus=4)
    assert (gpu.workers, gpu.threads) == (4, 4)


def test_an_explicit_pair_beyond_the_cores_is_refused():
    with pytest.raises(ThreadBudgetError, match="2 workers x 2 threads exceed the 2 cores"):
        resolve_parallelism(CPU, 2, 2, cores=2)


def test_omp_num_threads_caps_the_chosen_threads(no_env_workers, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert resolve_parallelism(CPU, 1, cores=8).threads == 1
    assert resolve_parallelism(CPU, 1, 4, cores=8).threads == 4  # the spec's own count wins


def test_the_environment_sets_the_default_workers(monkeypatch):
    monkeypatch.setenv(WORKERS_ENV, "1")
    assert resolve_parallelism(CPU, cores=2).workers == 1
    assert resolve_parallelism(CPU, 2, cores=2).workers == 2  # a flag or spec key wins
    monkeypatch.setenv(WORKERS_ENV, "3")
    with pytest.raises(ThreadBudgetError):
        resolve_parallelism(CPU, None, 2, cores=4)
    monkeypatch.setenv(WORKERS_ENV, "many")
    with pytest.raises(UserError, match="PUREBENCH_WORKERS='many'"):
        resolve_parallelism(CPU, cores=2)


def test_bad_counts_are_user_errors(no_env_workers):
    for workers, threads in ((0, None), (None, 0)):
        with pytest.raises(UserError, match="must be >= 1"):
            resolve_parallelism(CPU, workers, threads, cores=2)


def test_the_test_suite_runs_one_thread_and_one_worker():
    import os

    assert torch.get_num_threads() == 1 and os.environ["OMP_NUM_THREADS"] == "1" and os.environ[WORKERS_ENV] == "1"


def test_train_uses_omp_num_threads_and_gives_the_callers_count_back(monkeypatch):
    from bench.thread_policy import single_process_threads, torch_threads

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert single_process_threads() == 1
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert single_process_threads() == cpu_cores()
    with torch_threads(2):
        assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == 1

