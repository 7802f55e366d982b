"""The peers that scripts/compare_peers.py times: one module each, run_<peer>.py, with runner(workload).

runner(w) takes a workload (asv_benchmarks/benchmarks/workloads.py) and returns a function
that trains its networks once from their initial weights and returns each one's final mean
E; it raises NotImplementedError (or ImportError) where the peer cannot run that workload.
"""

import importlib

PEERS = ("fastbp", "fastbp_fast", "fastbp_diagnose", "oracle", "numpy", "torch", "jax", "sklearn", "fann", "c")


def runner(peer: str, workload: dict):
    """The peer's training function for this workload."""
    return importlib.import_module(f"peers.run_{peer}").runner(workload)
