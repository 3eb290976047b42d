#!/usr/bin/env python3
"""Runs upstream ClimaX's `interpolate_pos_embed` (microsoft/ClimaX src/climax/utils/pos_embed.py)
on seeded position embeddings and writes the resized tables SciZoo's PositionEmbeddingResize must
reproduce: 5.625° → 1.40625° patches (4×8 → 16×32, the upsampling a fine-tune at a finer grid
needs) and 16×32 → 8×16 (downsampling), 6 channels, float64. Nothing of upstream is copied: its
function is imported from a checkout.

    git clone https://github.com/microsoft/ClimaX && git -C ClimaX checkout 6d5d354
    python3 Scripts/climax/make_pos_embed_fixture.py --climax ClimaX \
        --output Tests/ClimateForecastingTests/Fixtures/climax_pos_embed_interpolation.h5
"""
import argparse
import os
import subprocess
import sys
import types

import h5py
import numpy as np
import torch

parser = argparse.ArgumentParser()
parser.add_argument("--climax", required=True, help="a checkout of microsoft/ClimaX (its src/ is imported)")
parser.add_argument("--output", required=True)
args = parser.parse_args()
sys.path.insert(0, os.path.join(args.climax, "src"))
np.float = float  # the module still uses the alias NumPy 1.24 removed
from climax.utils.pos_embed import interpolate_pos_embed  # noqa: E402

generator = np.random.default_rng(3)
cases = {"up": ((4, 8), (16, 32), 2), "down": ((16, 32), (8, 16), 4)}
with h5py.File(args.output + ".tmp", "w") as f:
    f.attrs["upstream"] = "microsoft/ClimaX " + subprocess.run(
        ["git", "-C", args.climax, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    for name, (old, new, patch) in cases.items():
        table = generator.normal(size=(1, old[0] * old[1], 6))
        checkpoint = {"net.pos_embed": torch.tensor(table)}
        # new_size is in pixels: upstream divides it by the model's patch size.
        interpolate_pos_embed(types.SimpleNamespace(patch_size=patch), checkpoint, new_size=(new[0] * patch, new[1] * patch))
        group = f.create_group(name)
        group.create_dataset("table", data=table)
        group.create_dataset("resized", data=checkpoint["net.pos_embed"].numpy())
        group.attrs["old"], group.attrs["new"] = old, new
os.replace(args.output + ".tmp", args.output)
print(f"wrote {args.output}")
