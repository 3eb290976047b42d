#!/usr/bin/env python3
"""Reference twin for `scizoo bench genslm-generate` and `scizoo bench genslm-train --compare
transformers`: the same GPT-NeoX (config.json and model.safetensors that SciZoo wrote, Hugging
Face names) run by Hugging Face transformers on PyTorch's CPU kernels, on the same thread count.
Prints one JSON object.

  generate: model.generate with sampling (top_k, top_p, temperature 1), exactly --new-tokens new
            tokens after a one-token prompt, use_cache on (HF's default) — tokens/s after a warm-up.
  train:    forward + backward + AdamW (lr 1e-4, weight decay 0.01) on random tokens [batch, seq],
            labels = inputs — tokens/s as the median step after a warm-up step.
"""
import argparse
import json
import os
import time

import torch
from safetensors.torch import load_file
from transformers import GPTNeoXConfig, GPTNeoXForCausalLM


def load(folder):
    config = GPTNeoXConfig.from_pretrained(folder)
    model = GPTNeoXForCausalLM(config)
    missing, unexpected = model.load_state_dict(load_file(os.path.join(folder, "model.safetensors")), strict=False)
    # Only buffers transformers recreates itself may be missing (rotary inv_freq, causal masks).
    assert not unexpected and all("rotary" in k or k.endswith("attention.bias") or k.endswith("masked_bias") for k in missing), (missing, unexpected)
    return config, model


def generate(args):
    config, model = load(args.model)
    model.eval()
    prompt = torch.tensor([[args.prompt_id]])
    settings = dict(do_sample=True, top_k=args.top_k, top_p=args.top_p, temperature=1.0, use_cache=True,
                    pad_token_id=0, eos_token_id=None)
    with torch.no_grad():
        model.generate(prompt, max_new_tokens=8, min_new_tokens=8, **settings)
        start = time.perf_counter()
        out = model.generate(prompt, max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens, **settings)
        seconds = time.perf_counter() - start
    new = out.shape[1] - 1
    print(json.dumps({"transformers": __import__("transformers").__version__, "torch": torch.__version__,
                      "threads": torch.get_num_threads(), "new_tokens": new, "seconds": seconds, "tokens_per_second": new / seconds}))


def train(args):
    config, model = load(args.model)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(5, config.vocab_size, (args.batch, args.seq), generator=generator)

    def step():
        optimizer.zero_grad(set_to_none=True)
        # --bf16: torch's CPU autocast (bf16 products, float32 weights and AdamW), the counterpart of
        # SciZoo's bf16 run.
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()

    step()
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    median = sorted(times)[len(times) // 2]
    print(json.dumps({"transformers": __import__("transformers").__version__, "torch": torch.__version__,
                      "threads": torch.get_num_threads(), "bf16": args.bf16, "seconds": times,
                      "tokens_per_second": args.batch * args.seq / median}))


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--new-tokens", type=int, default=1024)
    g.add_argument("--prompt-id", type=int, default=5)
    g.add_argument("--top-k", type=int, default=50)
    g.add_argument("--top-p", type=float, default=0.95)
    t = sub.add_parser("train")
    t.add_argument("--seq", type=int, default=1024)
    t.add_argument("--batch", type=int, default=1)
    t.add_argument("--steps", type=int, default=5)
    t.add_argument("--bf16", action="store_true", help="autocast to bfloat16 (products in bf16, weights float32)")
    for p in (g, t):
        p.add_argument("--model", required=True, help="folder with config.json and model.safetensors")
        p.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    {"generate": generate, "train": train}[args.command](args)


if __name__ == "__main__":
    main()
