#!/usr/bin/env python3
"""Reference twin for `scizoo bench matmul --compare`: float32 square matrix products with the BLAS
a Python user of this machine already has — numpy's bundled OpenBLAS and, when installed, PyTorch
(MKL/oneDNN) — on a given thread count. The caller sets OPENBLAS_NUM_THREADS / OMP_NUM_THREADS
before the libraries load; torch is also told with set_num_threads. Prints one JSON object per
(library, size): GFLOP/s from the median of timed calls after a warm-up, and the library's kernels.
"""
import argparse
import ctypes
import glob
import json
import os
import time

import numpy as np


def median_seconds(call, budget):
    call()
    times, start = [], time.perf_counter()
    while len(times) < 5 or (time.perf_counter() - start < budget and len(times) < 200):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def numpy_blas():
    """numpy's OpenBLAS version string and the core it runs (asked from the bundled library itself)."""
    description = "numpy " + np.__version__
    for path in glob.glob(os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs", "*openblas*")):
        lib = ctypes.CDLL(path)
        for prefix, suffix in (("scipy_", "64_"), ("scipy_", ""), ("", "64_"), ("", "")):
            try:
                config = getattr(lib, prefix + "openblas_get_config" + suffix)
                core = getattr(lib, prefix + "openblas_get_corename" + suffix)
            except AttributeError:
                continue
            config.restype = core.restype = ctypes.c_char_p
            version = config().decode().split()[1] if config() else "?"
            return f"{description}, OpenBLAS {version}, core {core().decode()}"
    return description


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024, 2048])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=0.3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    libraries = [("numpy", numpy_blas(), lambda a, b: (lambda: np.matmul(a, b)))]
    try:
        import torch
        torch.set_num_threads(args.threads)
        blas = "MKL" if torch.backends.mkl.is_available() else "its BLAS"
        libraries.append(("torch", f"torch {torch.__version__} ({blas}, {torch.get_num_threads()} threads)",
                          lambda a, b: (lambda ta, tb: (lambda: torch.mm(ta, tb)))(torch.from_numpy(a), torch.from_numpy(b))))
    except ImportError:
        pass
    for n in args.sizes:
        a = rng.standard_normal((n, n), dtype=np.float32)
        b = rng.standard_normal((n, n), dtype=np.float32)
        for name, description, make in libraries:
            seconds = median_seconds(make(a, b), args.seconds)
            print(json.dumps({"library": name, "description": description, "size": n, "threads": args.threads,
                              "gflops": 2 * n**3 / seconds / 1e9}), flush=True)


if __name__ == "__main__":
    main()
