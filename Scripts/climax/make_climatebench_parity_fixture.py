#!/usr/bin/env python3
"""Runs upstream's ClimateBench model (microsoft/ClimaX, src/climax/climate_projection/arch.py,
ClimaXClimateBench, and utils/metrics.py's mse, its training loss) on a small configuration and
writes what SciZoo's ClimaXClimateBench must reproduce: the weights under upstream's names, one
batch of forcing histories, the time embedding, the pooled encoder output, the prediction, the
loss and the gradient of every parameter.

Upstream runs in float64 on weights that are float32 numbers, so the fixture is exact for both
of SciZoo's precisions. Nothing of upstream is copied: its modules are imported from a checkout.

    git clone https://github.com/microsoft/ClimaX && git -C ClimaX checkout 6d5d354
    pip install torch==2.4.1 timm==0.6.13 torchvision==0.19.1 h5py
    python3 Scripts/climax/make_climatebench_parity_fixture.py --climax ClimaX \
        --output Tests/ClimateForecastingTests/Fixtures/climax_climatebench_parity.h5
"""
import argparse
import os
import subprocess
import sys

import h5py
import numpy as np
import torch

parser = argparse.ArgumentParser()
parser.add_argument("--climax", required=True, help="a checkout of microsoft/ClimaX (its src/ is imported)")
parser.add_argument("--output", required=True, help="the HDF5 file to write")
args = parser.parse_args()
sys.path.insert(0, os.path.join(args.climax, "src"))
np.float = float  # upstream's utils/pos_embed.py still uses the alias NumPy 1.24 removed

import timm  # noqa: E402
from climax.climate_projection.arch import ClimaXClimateBench  # noqa: E402
from climax.utils.metrics import mse  # noqa: E402

torch.manual_seed(11)
variables = ["CO2", "SO2", "CH4", "BC"]
height, width, patch, dim, depth, heads, history = 8, 16, 2, 16, 2, 2, 3
model = ClimaXClimateBench(variables, ["tas"], img_size=[height, width], time_history=history, patch_size=patch,
                           embed_dim=dim, depth=depth, decoder_depth=1, num_heads=heads, mlp_ratio=4.0,
                           drop_path=0.0, drop_rate=0.0)
# Upstream's initialisation, then seeded noise on every tensor (the zero queries and biases, the
# LayerNorm scales), rounded to float32 so both precisions start from the same numbers.
with torch.no_grad():
    for _, parameter in model.named_parameters():
        parameter.add_(0.05 * torch.randn_like(parameter))
model = model.double()
with torch.no_grad():
    for _, parameter in model.named_parameters():
        parameter.copy_(parameter.float().double())
model.train()

generator = np.random.default_rng(3)
batch = 2
# The variables in another order than default_vars, as a recipe may list them.
inputs = ["SO2", "CO2", "BC", "CH4"]
x = torch.tensor(generator.normal(size=(batch, history, len(inputs), height, width)).astype(np.float32), dtype=torch.float64)
y = torch.tensor(generator.normal(size=(batch, 1, height, width)).astype(np.float32), dtype=torch.float64)
lead = torch.zeros(batch, dtype=torch.float64)
latitudes = -90 + (np.arange(height) + 0.5) * 180 / height

encoded = model.forward_encoder(x, lead, inputs)            # [B, 1, D]
loss, predictions = model.forward(x, y, lead, inputs, ["tas"], [mse], latitudes)
total = loss[0]["loss"]
total.backward()

commit = subprocess.run(["git", "-C", args.climax, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
temporary = args.output + ".partial"
with h5py.File(temporary, "w") as f:
    f.attrs["upstream"] = f"microsoft/ClimaX {commit or 'unknown commit'}; timm {timm.__version__}; torch {torch.__version__}"
    f.attrs["variables"] = ",".join(variables)
    f.attrs["inputs"] = ",".join(inputs)
    f.attrs["configuration"] = f"img {height}x{width}, patch {patch}, dim {dim}, depth {depth}, heads {heads}, history {history}"
    for key, value in [("x", x), ("y", y), ("lead", lead)]:
        f[key] = value.numpy()
    f["encoded"] = encoded.detach().numpy()
    f["predictions"] = predictions.detach().numpy()
    f["loss"] = total.detach().numpy()
    for name, parameter in model.named_parameters():
        f["weights/" + name] = parameter.detach().float().numpy()
        # Patch embeddings are all used here; a parameter without a gradient would be written as zero.
        f["gradients/" + name] = (parameter.grad if parameter.grad is not None else torch.zeros_like(parameter)).numpy()
os.replace(temporary, args.output)
print(f"loss {total.item():.6f}; {sum(1 for _ in model.named_parameters())} tensors; upstream {commit}")
