#!/usr/bin/env python3
"""Runs upstream ClimaX (microsoft/ClimaX, src/climax/arch.py and utils/metrics.py) on a small
model and writes what SciZoo's ClimaX must reproduce: the weights (safetensors, upstream's names
with Lightning's `net.` prefix), one batch, every stage of the forward pass, the training loss
(lat_weighted_mse) and the gradient of every parameter.

Upstream runs in float64 on weights that are float32 numbers, so the fixture is exact for both
of SciZoo's precisions. Nothing of upstream is copied: its modules are imported from a checkout.

    git clone https://github.com/microsoft/ClimaX && git -C ClimaX checkout 6d5d354
    pip install torch==2.4.1 timm==0.6.13 torchvision==0.19.1 pillow scipy safetensors h5py
    python3 Scripts/climax/make_upstream_parity_fixture.py --climax ClimaX \
        --output Tests/ClimateForecastingTests/Fixtures
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
parser.add_argument("--output", required=True, help="folder for climax_upstream_parity.h5 and climax_upstream_weights.safetensors")
args = parser.parse_args()
sys.path.insert(0, os.path.join(args.climax, "src"))
np.float = float  # upstream's utils/pos_embed.py still uses the alias NumPy 1.24 removed

import timm  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from climax.arch import ClimaX  # noqa: E402
from climax.utils.metrics import lat_weighted_mse  # noqa: E402

torch.manual_seed(5)
variables = ["2m_temperature", "10m_u_component_of_wind", "geopotential_500", "temperature_850",
             "specific_humidity_850", "u_component_of_wind_500"]
height, width, patch, dim, depth, decoder, heads = 8, 16, 2, 16, 2, 1, 2
model = ClimaX(variables, img_size=[height, width], patch_size=patch, embed_dim=dim, depth=depth,
               decoder_depth=decoder, num_heads=heads, mlp_ratio=4.0, drop_path=0.0, drop_rate=0.0)
# Upstream's initialisation, then seeded noise on every tensor (LayerNorm scales off 1, biases
# and the variable query off 0), rounded to float32 so both precisions start from the same numbers.
with torch.no_grad():
    for _, parameter in model.named_parameters():
        parameter.add_(0.05 * torch.randn_like(parameter))
model = model.double()
with torch.no_grad():
    for _, parameter in model.named_parameters():
        parameter.copy_(parameter.float().double())
model.train()

generator = np.random.default_rng(7)
batch = 2
inputs, outputs = [variables[3], variables[0], variables[4]], [variables[5], variables[3]]
x = torch.tensor(generator.normal(size=(batch, len(inputs), height, width)).astype(np.float32), dtype=torch.float64)
y = torch.tensor(generator.normal(size=(batch, len(outputs), height, width)).astype(np.float32), dtype=torch.float64)
lead = torch.tensor(np.array([0.72, 0.06], dtype=np.float32), dtype=torch.float64)
latitudes = -90 + (np.arange(height) + 0.5) * 180 / height

stages = {}
# forward_encoder, one upstream call at a time.
ids = model.get_var_ids(tuple(inputs), x.device)
tokens = torch.stack([model.token_embeds[i](x[:, j:j + 1]) for j, i in enumerate(ids.tolist())], dim=1)
tokens = tokens + model.get_var_emb(model.var_embed, tuple(inputs)).unsqueeze(2)
stages["tokens"] = tokens                                   # [B, V, L, D]
h = model.aggregate_variables(tokens)
stages["aggregated"] = h                                    # [B, L, D]
h = h + model.pos_embed + model.lead_time_embed(lead.unsqueeze(-1)).unsqueeze(1)
stages["embedded"] = h
for index, block in enumerate(model.blocks):
    h = block(h)
    stages[f"block{index}"] = h
h = model.norm(h)
stages["normed"] = h
stages["head"] = model.head(h)                              # [B, L, V_all·p²]
# The whole forward and the training loss, as the global-forecast module calls them.
loss, predictions = model.forward(x, y, lead, inputs, outputs, [lat_weighted_mse], latitudes)
stages["predictions"] = predictions                         # [B, V_out, H, W]
full_encoder = model.forward_encoder(x, lead, inputs)
assert torch.allclose(full_encoder, stages["normed"], rtol=0, atol=1e-12), "stage-by-stage encoder differs from forward_encoder"
total = loss[0]["loss"]
total.backward()

os.makedirs(args.output, exist_ok=True)
weights = {"net." + name: parameter.detach().float().contiguous() for name, parameter in model.named_parameters()}
save_file(weights, os.path.join(args.output, "climax_upstream_weights.safetensors"))
os.chmod(os.path.join(args.output, "climax_upstream_weights.safetensors"), 0o644)
commit = subprocess.run(["git", "-C", args.climax, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
with h5py.File(os.path.join(args.output, "climax_upstream_parity.h5"), "w") as f:
    f.attrs["upstream"] = f"microsoft/ClimaX {commit or 'unknown commit'}; timm {timm.__version__}; torch {torch.__version__}"
    f.attrs["variables"] = ",".join(variables)
    f.attrs["inputs"] = ",".join(inputs)
    f.attrs["outputs"] = ",".join(outputs)
    for key, value in [("x", x), ("y", y), ("lead", lead), ("latitudes", torch.tensor(latitudes))]:
        f[key] = value.numpy()
    for name, value in stages.items():
        f["stages/" + name] = value.detach().numpy()
    f["loss"] = total.detach().numpy()
    for name, parameter in model.named_parameters():
        # Patch embeddings of variables the batch does not use take no gradient: zero.
        f["gradients/" + name] = (parameter.grad if parameter.grad is not None else torch.zeros_like(parameter)).numpy()
print(f"loss {total.item():.6f}; {len(weights)} tensors; upstream {commit}")
