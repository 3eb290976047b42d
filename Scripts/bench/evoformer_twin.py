#!/usr/bin/env python3
"""Reference twin for `scizoo bench evoformer-attention --compare torch`: DS4Sci EvoformerAttention
written as PyTorch ops, the naive path DeepSpeed's own tests compare its kernel with —
softmax(Q·Kᵀ/√D + bias1 + bias2)·V over [B, N, L, H, D] — forward, or forward and backward with
gradients for Q, K, V and the pair bias. Inputs as DeepSpeed's benchmark draws them (Q, K, V ~ N(0, 1);
bias1 = 1e9·(mask − 1) for a random 0/1 key mask; bias2 ~ N(0, 1) [B, 1, H, L, L]; dO ~ U(0, 1)).
Prints one JSON object with the median seconds over --runs after a warm-up run.
"""
import argparse
import json
import time

import torch


def attention(q, k, v, bias1, bias2):
    # [B, N, L, H, D] → [B, N, H, L, D]
    q, k, v = (t.transpose(-2, -3) for t in (q, k, v))
    scores = torch.matmul(q, k.transpose(-1, -2)) * q.shape[-1] ** -0.5 + bias1 + bias2
    return torch.matmul(torch.softmax(scores, dim=-1), v).transpose(-2, -3)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default="1,256,256,8,32", help="B,N,L,H,D")
    parser.add_argument("--mode", default="fwdbwd", choices=["fwd", "fwdbwd"])
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    b, n, l, h, d = (int(x) for x in args.config.split(","))
    dtype = getattr(torch, args.dtype)
    q, k, v = (torch.randn(b, n, l, h, d, dtype=dtype) for _ in range(3))
    mask = (torch.rand(b, n, 1, 1, l) >= 0.5).to(dtype)
    bias1 = 1e9 * (mask - 1)
    bias2 = torch.randn(b, 1, h, l, l, dtype=dtype)
    grad_out = torch.rand(b, n, l, h, d, dtype=dtype)

    def run():
        if args.mode == "fwd":
            with torch.no_grad():
                attention(q, k, v, bias1, bias2)
            return
        leaves = [t.detach().requires_grad_() for t in (q, k, v, bias2)]
        out = attention(leaves[0], leaves[1], leaves[2], bias1, leaves[3])
        torch.autograd.grad(out, leaves, grad_out)

    run()
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "seconds": times,
                      "median": sorted(times)[len(times) // 2]}))


if __name__ == "__main__":
    main()
