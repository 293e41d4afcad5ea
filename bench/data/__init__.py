"""Datasets: registered names and local-file sources, all as float tensors in [0, 1]."""

from bench.data import local_files, mnist5k, torchvision_sets  # noqa: F401  (registration)
from bench.data.local_files import content_fingerprint
from bench.data.registry import DATASETS, load_dataset, parse_dataset_name, split_dataset_names
from bench.data.splits import DatasetSplits, Split

__all__ = ["DATASETS", "DatasetSplits", "Split", "content_fingerprint", "load_dataset", "parse_dataset_name",
           "split_dataset_names"]
