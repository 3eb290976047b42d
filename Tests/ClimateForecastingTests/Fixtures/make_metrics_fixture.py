"""Writes metrics_fixture.json: fixed arrays and their scores by a NumPy implementation of
ClimaX's src/climax/utils/metrics.py (lat_weighted_mse, lat_weighted_rmse, lat_weighted_acc) and
WeatherBench v1's src/score.py (compute_weighted_rmse). Run: python3 make_metrics_fixture.py"""
import json

import numpy as np

rng = np.random.default_rng(20261124)
B, V, H, W = 3, 2, 4, 8
lat = np.linspace(-78.75, 78.75, H)  # cell centres of a 4-row grid, degrees
pred = rng.normal(size=(B, V, H, W)) * np.array([50.0, 2.0])[None, :, None, None] + np.array([5500.0, 270.0])[None, :, None, None]
truth = pred + rng.normal(size=(B, V, H, W)) * np.array([30.0, 1.5])[None, :, None, None]
clim = truth.mean(axis=0) + rng.normal(size=(V, H, W)) * np.array([10.0, 0.5])[:, None, None]

w = np.cos(np.deg2rad(lat))
w = w / w.mean()
wl = w[None, :, None]  # [1, H, 1]

out = {"shape": [B, V, H, W], "latitudes": lat.tolist(), "prediction": pred.ravel().tolist(),
       "truth": truth.ravel().tolist(), "climatology": clim.ravel().tolist(), "variables": []}
for v in range(V):
    err2 = (pred[:, v] - truth[:, v]) ** 2  # [B, H, W]
    # ClimaX lat_weighted_rmse: sqrt of the weighted mean over (H, W) per sample, then the mean over samples.
    per_sample = float(np.mean(np.sqrt(np.mean(err2 * wl, axis=(-2, -1)))))
    # WeatherBench compute_weighted_rmse: one sqrt of the weighted mean over time, lat and lon.
    global_ = float(np.sqrt(np.mean(err2 * wl)))
    # ClimaX lat_weighted_acc: anomalies against the climatology, each centred on its own mean.
    f = pred[:, v] - clim[v]
    a = truth[:, v] - clim[v]
    f = f - f.mean()
    a = a - a.mean()
    acc = float(np.sum(wl * f * a) / np.sqrt(np.sum(wl * f ** 2) * np.sum(wl * a ** 2)))
    out["variables"].append({"w_rmse_per_sample": per_sample, "w_rmse_global": global_, "acc": acc})
# ClimaX lat_weighted_mse (the loss): weighted squared error averaged over everything.
out["w_mse"] = float(np.mean((pred - truth) ** 2 * w[None, None, :, None]))
with open("metrics_fixture.json", "w") as handle:
    json.dump(out, handle)
print("wrote metrics_fixture.json", [round(x["w_rmse_per_sample"], 4) for x in out["variables"]])
