#!/usr/bin/env python3
"""A PyTorch twin of SciZoo's Graphormer: the same maths as microsoft/Graphormer's encoder and
head, written out functionally (Hugging Face transformers no longer ships GraphormerModel), with
parameters named as SciZoo names them. Used two ways:

  fixture  weights, a collated batch, the outputs and every parameter's gradient, for
           Tests/MolecularGraphsTests (GraphormerParityTests):
           python3 Scripts/sfm/graphormer_twin.py fixture ENCODINGS.h5 OUT.h5
  bench    training graphs/s of the same model on the same batches (called by `scizoo bench graphormer`)

Semantics followed (upstream files in brackets): padded embeddings are zero and gradient-free
(nn.Embedding padding_idx=0); the bias is spatial + multi-hop edge term on node pairs, the graph
token's virtual distance on row 0 and column 0, plus the collator's 0/−inf base added twice
[graphormer_layers.py]; post-LN layers with q scaled by head_dim^-0.5, softmax(qk + bias)v
[graphormer_graph_encoder_layer.py, multihead_attention.py]; head Linear-GELU-LayerNorm-Linear
(no bias) + learned scalar at the graph token [models/graphormer.py].
"""
import math
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F


def config(layers=2, dim=16, ffn=24, heads=4, classes=1):
    return dict(layers=layers, dim=dim, ffn=ffn, heads=heads, classes=classes, num_atoms=512 * 9, num_degree=512,
                num_edges=512 * 3, num_spatial=512, num_edge_dis=128, multi_hop_max_dist=5)


def init_parameters(c, seed, dtype):
    g = torch.Generator().manual_seed(seed)
    def normal(*shape, std=0.02):
        return (torch.randn(*shape, generator=g, dtype=torch.float64) * std).to(dtype)
    def ln(name, p):
        p[name + ".weight"] = (1 + normal(c["dim"], std=0.1))
        p[name + ".bias"] = normal(c["dim"], std=0.1)
    p = {}
    d, h = c["dim"], c["heads"]
    p["nodeFeature.atomEncoder"] = normal(c["num_atoms"] + 1, d)
    p["nodeFeature.inDegreeEncoder"] = normal(c["num_degree"], d)
    p["nodeFeature.outDegreeEncoder"] = normal(c["num_degree"], d)
    p["nodeFeature.graphToken"] = normal(1, d)
    p["attentionBias.edgeEncoder"] = normal(c["num_edges"] + 1, h, std=0.5)
    p["attentionBias.edgeDistanceEncoder"] = normal(c["num_edge_dis"] * h * h, 1, std=0.5)
    p["attentionBias.spatialPositionEncoder"] = normal(c["num_spatial"], h, std=0.5)
    p["attentionBias.graphTokenVirtualDistance"] = normal(1, h, std=0.5)
    ln("embeddingLayerNorm", p)
    for i in range(c["layers"]):
        for name in ("qProj", "kProj", "vProj", "outProj"):
            p[f"layers.{i}.selfAttention.{name}.weight"] = normal(d, d, std=0.3)
            p[f"layers.{i}.selfAttention.{name}.bias"] = normal(d, std=0.1)
        ln(f"layers.{i}.selfAttentionLayerNorm", p)
        p[f"layers.{i}.fc1.weight"] = normal(c["ffn"], d, std=0.3)
        p[f"layers.{i}.fc1.bias"] = normal(c["ffn"], std=0.1)
        p[f"layers.{i}.fc2.weight"] = normal(d, c["ffn"], std=0.3)
        p[f"layers.{i}.fc2.bias"] = normal(d, std=0.1)
        ln(f"layers.{i}.finalLayerNorm", p)
    p["headTransform.weight"] = normal(d, d, std=0.3)
    p["headTransform.bias"] = normal(d, std=0.1)
    ln("headLayerNorm", p)
    p["headOutput.weight"] = normal(c["classes"], d, std=0.3)
    p["headBias"] = normal(1, std=0.1)
    return p


def padded(table, ids):
    return table[ids] * (ids != 0).unsqueeze(-1).to(table.dtype)


def forward(p, c, batch):
    x_ids, degree, spd, edge_input, base = batch["x"], batch["in_degree"], batch["spatial_pos"], batch["edge_input"], batch["attn_bias"]
    b, n = x_ids.shape[:2]
    h, d = c["heads"], c["dim"]
    node = padded(p["nodeFeature.atomEncoder"], x_ids).sum(-2)
    node = node + padded(p["nodeFeature.inDegreeEncoder"], degree) + padded(p["nodeFeature.outDegreeEncoder"], degree)
    x = torch.cat([p["nodeFeature.graphToken"].unsqueeze(0).expand(b, 1, d), node], dim=1)
    # Attention bias [B, H, N+1, N+1].
    pair = padded(p["attentionBias.spatialPositionEncoder"], spd).permute(0, 3, 1, 2)
    hops = min(edge_input.shape[3], c["multi_hop_max_dist"])
    if hops > 0:
        length = spd.clone()
        length[length == 0] = 1
        length = torch.where(length > 1, length - 1, length).clamp(0, c["multi_hop_max_dist"])
        e = padded(p["attentionBias.edgeEncoder"], edge_input[:, :, :, :hops, :]).mean(-2)   # [B, N, N, D, H]
        maps = p["attentionBias.edgeDistanceEncoder"].reshape(-1, h, h)[:hops]
        e = torch.einsum("bijdh,dhk->bijk", e, maps) / length.to(e.dtype).unsqueeze(-1)
        pair = pair + e.permute(0, 3, 1, 2)
    t = p["attentionBias.graphTokenVirtualDistance"].view(1, h, 1, 1)
    body = torch.cat([t.expand(b, h, n, 1), pair], dim=3)
    bias = torch.cat([t.expand(b, h, 1, n + 1), body], dim=2) + 2 * base.unsqueeze(1)
    def layer_norm(name, v):
        return F.layer_norm(v, (d,), p[name + ".weight"], p[name + ".bias"], 1e-5)
    x = layer_norm("embeddingLayerNorm", x)
    L = n + 1
    for i in range(c["layers"]):
        pre = f"layers.{i}."
        lin = lambda name, v: F.linear(v, p[pre + name + ".weight"], p[pre + name + ".bias"])
        q = lin("selfAttention.qProj", x).view(b, L, h, d // h).transpose(1, 2) * (d // h) ** -0.5
        k = lin("selfAttention.kProj", x).view(b, L, h, d // h).transpose(1, 2)
        v = lin("selfAttention.vProj", x).view(b, L, h, d // h).transpose(1, 2)
        weights = torch.softmax(q @ k.transpose(-1, -2) + bias, dim=-1)
        attended = (weights @ v).transpose(1, 2).reshape(b, L, d)
        x = layer_norm(pre + "selfAttentionLayerNorm", x + lin("selfAttention.outProj", attended))
        x = layer_norm(pre + "finalLayerNorm", x + lin("fc2", F.gelu(lin("fc1", x))))
    token = x[:, 0, :]
    y = F.gelu(F.linear(token, p["headTransform.weight"], p["headTransform.bias"]))
    y = F.layer_norm(y, (d,), p["headLayerNorm.weight"], p["headLayerNorm.bias"], 1e-5)
    return F.linear(y, p["headOutput.weight"]) + p["headBias"]


def read_batch(group):
    batch = {k: torch.from_numpy(group[k][...]) for k in ("x", "in_degree", "spatial_pos", "edge_input")}
    batch["attn_bias"] = torch.from_numpy(group["attn_bias"][...])
    return batch


def fixture(encodings, out_path):
    c = config()
    with h5py.File(encodings) as f, h5py.File(out_path + ".tmp", "w") as out:
        for key, value in c.items():
            out.attrs[key] = value
        # Weights are drawn in float64, rounded to float32 and stored so; both runs use those values.
        weights64 = {k: v.float().double() for k, v in init_parameters(c, seed=11, dtype=torch.float64).items()}
        w = out.create_group("weights")
        for k, v in weights64.items():
            w.create_dataset(k, data=v.float().numpy(), compression="gzip")
        for dtype, tag in ((torch.float64, "float64"), (torch.float32, "float32")):
            p = {k: v.to(dtype) for k, v in weights64.items()}
            for name in ("batch_1", "batch_4"):
                batch = read_batch(f[name])
                batch["attn_bias"] = batch["attn_bias"].to(dtype)
                params = {k: v.clone().requires_grad_(True) for k, v in p.items()}
                y = forward(params, c, batch)
                weights = torch.linspace(0.3, 1.7, y.numel(), dtype=dtype).reshape(y.shape)
                (y * weights).sum().backward()
                g = out.create_group(f"{tag}/{name}")
                g.create_dataset("output", data=y.detach().numpy())
                g.create_dataset("loss_weights", data=weights.numpy())
                for k, v in params.items():
                    g.create_dataset("grad/" + k, data=v.grad.numpy(), compression="gzip", shuffle=True)
    import os
    os.replace(out_path + ".tmp", out_path)


def bench(batches_path, steps, threads, rounds):
    """Training graphs/s on the batches SciZoo's bench wrote (same model size, Adam, float32)."""
    import json
    import time
    torch.set_num_threads(threads)
    with h5py.File(batches_path) as f:
        c = {k: int(v) if isinstance(v, (np.integer, int)) else float(v) for k, v in f.attrs.items()}
        names = sorted(k for k in f.keys() if k.startswith("batch_"))
        batches = [read_batch(f[name]) for name in names]
    params = {k: v.float().requires_grad_(True) for k, v in init_parameters(c, seed=1, dtype=torch.float64).items()}
    optimizer = torch.optim.Adam(params.values(), lr=1e-4)
    graphs = batches[0]["x"].shape[0]
    def step(batch):
        optimizer.zero_grad(set_to_none=True)
        y = forward(params, c, batch)
        (y - 1.0).abs().mean().backward()
        optimizer.step()
    step(batches[0])  # warm-up
    rates = []
    for _ in range(rounds):
        start = time.perf_counter()
        for k in range(steps):
            step(batches[k % len(batches)])
        rates.append(graphs * steps / (time.perf_counter() - start))
    print(json.dumps({"graphs_per_second": sorted(rates)[len(rates) // 2], "torch": torch.__version__, "threads": threads}))


if __name__ == "__main__":
    if sys.argv[1] == "fixture":
        fixture(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "bench":
        bench(sys.argv[2], steps=int(sys.argv[3]), threads=int(sys.argv[4]), rounds=int(sys.argv[5]))
