"""Benchmark and seed data: the registry of known files and how to get verified copies."""

from evolcoder.data.fetch import DataError, cache_dir, fetch_all, file_sha256, resolve_data_file, verify_all
from evolcoder.data.registry import DATA_FILES, DataFile

__all__ = [
    "DATA_FILES",
    "DataError",
    "DataFile",
    "cache_dir",
    "fetch_all",
    "file_sha256",
    "resolve_data_file",
    "verify_all",
]
