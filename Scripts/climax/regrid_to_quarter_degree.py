#!/usr/bin/env python3
"""Regrids a split folder of ClimaX HDF5 shards (SciZoo's layout) to the 0.25° ERA5 grid:
721 rows from 90° to −90° with both poles, 1440 columns from 0°, bilinear (periodic in longitude,
held constant beyond the outermost source rows), keeping every `--every`-th frame of the first
`--days` days. Statistics and climatology are regridded with the fields. Each output file is
written to a temporary name and renamed.

    python3 Scripts/climax/regrid_to_quarter_degree.py --source Datasets/climate-1.40625/train \
        --output Datasets/climate-0.25/train --days 10 --every 6
"""
import argparse
import glob
import os

import h5py
import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument("--source", required=True, help="a split folder of .h5 shards")
parser.add_argument("--output", required=True, help="the split folder to write (one shard)")
parser.add_argument("--days", type=float, required=True, help="days to keep from the start of the split")
parser.add_argument("--every", type=int, default=6, help="keep every N-th hourly frame")
args = parser.parse_args()

latitudes = 90 - 0.25 * np.arange(721)
longitudes = 0.25 * np.arange(1440)


def stencil(source, target, periodic):
    """Indices of the two neighbours and the second one's weight, per target coordinate."""
    if periodic:
        spacing = 360 / len(source)
        offset = ((target - source[0]) % 360) / spacing
        left = np.floor(offset).astype(int) % len(source)
        return left, (left + 1) % len(source), offset - np.floor(offset)
    order = np.argsort(source)
    ascending = source[order]
    position = np.clip(np.searchsorted(ascending, target), 1, len(source) - 1)
    a, b = ascending[position - 1], ascending[position]
    weight = np.clip((target - a) / (b - a), 0, 1)
    return order[position - 1], order[position], weight


def regrid(field, rows, columns):
    """[..., H, W] → [..., 721, 1440]."""
    (r0, r1, wr), (c0, c1, wc) = rows, columns
    along = field[..., c0] * (1 - wc) + field[..., c1] * wc
    return (along[..., r0, :] * (1 - wr)[:, None] + along[..., r1, :] * wr[:, None]).astype(np.float32)


paths = sorted(glob.glob(os.path.join(args.source, "*.h5")))
frames_needed = int(args.days * 24)
os.makedirs(args.output, exist_ok=True)
target = os.path.join(args.output, "000.h5")
partial = target + ".partial"
with h5py.File(paths[0], "r") as first, h5py.File(partial, "w") as out:
    rows, columns = stencil(first["lat"][:], latitudes, False), stencil(first["lon"][:], longitudes, True)
    names = [k for k in first if isinstance(first[k], h5py.Dataset) and first[k].ndim == 4]
    out.attrs["layout"] = "climax"
    out.attrs["source"] = f"{args.source} regridded bilinearly to 0.25° (721 × 1440 with poles)"
    out["lat"], out["lon"] = latitudes, longitudes
    kept, hours = {n: [] for n in names}, []
    remaining = frames_needed
    for path in paths:
        with h5py.File(path, "r") as f:
            take = min(remaining, len(f["time"]))
            picks = np.arange(0, take, args.every)
            hours += list(f["time"][:][picks])
            for n in names:
                if f[n].shape[0] == 1:
                    if not kept[n]:
                        kept[n].append(regrid(f[n][:], rows, columns))
                else:
                    kept[n].append(regrid(f[n][picks], rows, columns))
            remaining -= take
        if remaining <= 0:
            break
    out["time"] = np.array(hours)
    for n in names:
        data = np.concatenate(kept[n])
        out.create_dataset(n, data=data, chunks=(1, 1, 721, 1440))
    for group in ("stats/mean", "stats/std"):
        for n in first[group]:
            out[f"{group}/{n}"] = first[f"{group}/{n}"][:]
    for n in first["climatology"]:
        out[f"climatology/{n}"] = regrid(first[f"climatology/{n}"][:], rows, columns)
os.replace(partial, target)
print(f"{target}: {len(hours)} frames of {len(names)} variables on 721 × 1440")
