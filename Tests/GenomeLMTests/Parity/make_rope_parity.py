#!/usr/bin/env python3
"""Writes the rotary-embedding parity fixture next to this file, from transformers itself.

Run by a developer, never by CI (it needs PyTorch and transformers):

    pip install torch==2.4.1 transformers==4.46.3 safetensors
    python3 Tests/GenomeLMTests/Parity/make_rope_parity.py

For each case (RoPE scaling schemes of transformers' modeling_rope_utils as GPT-NeoX uses them,
partial rotary, GPT-J's interleaved pairs) it rotates random queries with transformers'
own modules and functions and saves:
  rope_cases.json         per case: the config.json keys SciZoo reads, the first position, the length
  rope_parity.safetensors per case `<name>.q` ([1, S, H, D], SciZoo's layout), `.q_rotated`,
                          `.inv_freq` and `.attention_scaling` ([1]); keys rotate as queries do

transformers computes its angles in float32 (inv_freq and position ids cast with .float()). That
rounding (up to ~1e-4 rad at position 200) would hide the scheme being compared, so this script
evaluates transformers' code in float64: `.float()` and float32 aranges become float64 while it
runs. The float32 outputs are saved too (`<name>.q_rotated_float32`) for the record.
"""
import json
import os

import torch
import transformers
from safetensors.torch import save_file
from transformers import GPTNeoXConfig
from transformers.models.gpt_neox.modeling_gpt_neox import GPTNeoXRotaryEmbedding, apply_rotary_pos_emb
from transformers.models.gptj import modeling_gptj

here = os.path.dirname(os.path.abspath(__file__))
HEADS, HEAD_DIM, MAX_POSITIONS = 1, 32, 128

CASES = [
    # name, rotary_pct, rope_scaling (None = default), first position, length
    ("default", 1.0, None, 0, 64),
    ("linear", 1.0, {"rope_type": "linear", "factor": 2.0}, 0, 64),
    ("linear_partial", 0.25, {"rope_type": "linear", "factor": 3.0}, 0, 64),
    ("dynamic_within", 1.0, {"rope_type": "dynamic", "factor": 2.0}, 0, 100),
    ("dynamic_beyond", 1.0, {"rope_type": "dynamic", "factor": 2.0}, 0, 200),
    ("dynamic_cached", 0.5, {"type": "dynamic", "factor": 4.0}, 150, 50),
    ("yarn", 1.0, {"rope_type": "yarn", "factor": 4.0}, 0, 200),
    ("yarn_options", 0.5, {"rope_type": "yarn", "factor": 8.0, "beta_fast": 16.0, "beta_slow": 2.0, "attention_factor": 0.9}, 0, 160),
    ("llama3", 1.0, {"rope_type": "llama3", "factor": 4.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                     "original_max_position_embeddings": 64}, 0, 200),
]


class Float64:
    """Runs transformers' float32 casts in float64 while active."""

    def __enter__(self):
        self.float, self.arange, self.default = torch.Tensor.float, torch.arange, torch.get_default_dtype()
        torch.Tensor.float = lambda tensor, *args, **kwargs: tensor.double()
        arange = self.arange

        def arange64(*args, **kwargs):
            if kwargs.get("dtype") is torch.float32:
                kwargs["dtype"] = torch.float64
            return arange(*args, **kwargs)

        torch.arange = arange64
        torch.set_default_dtype(torch.float64)

    def __exit__(self, *error):
        torch.Tensor.float, torch.arange = self.float, self.arange
        torch.set_default_dtype(self.default)


def neox_case(rotary_pct, rope_scaling, start, length, q, k):
    config = GPTNeoXConfig(hidden_size=HEADS * HEAD_DIM, num_attention_heads=HEADS, rotary_pct=rotary_pct,
                           rotary_emb_base=10000, max_position_embeddings=MAX_POSITIONS, rope_scaling=rope_scaling)
    rotary = int(HEAD_DIM * rotary_pct)
    embedding = GPTNeoXRotaryEmbedding(config=config)
    positions = torch.arange(start, start + length)[None, :]
    qh, kh = q.permute(0, 2, 1, 3), k.permute(0, 2, 1, 3)  # [B, H, S, D] as transformers holds them
    cos, sin = embedding(qh, positions)
    q_rot, k_rot = apply_rotary_pos_emb(qh[..., :rotary], kh[..., :rotary], cos, sin)
    q_out = torch.cat([q_rot, qh[..., rotary:]], dim=-1).permute(0, 2, 1, 3)
    k_out = torch.cat([k_rot, kh[..., rotary:]], dim=-1).permute(0, 2, 1, 3)
    keys = {"hidden_size": HEADS * HEAD_DIM, "num_attention_heads": HEADS, "num_hidden_layers": 1, "vocab_size": 8,
            "intermediate_size": 8, "rotary_pct": rotary_pct, "rotary_emb_base": 10000,
            "max_position_embeddings": MAX_POSITIONS}
    if rope_scaling is not None:
        keys["rope_scaling"] = rope_scaling
    return keys, q_out, k_out, embedding.inv_freq.clone(), float(embedding.attention_scaling)


def gptj_case(rotary_dim, start, length, q, k):
    table = modeling_gptj.create_sinusoidal_positions(start + length, rotary_dim)[start:][None]
    sin, cos = torch.split(table, table.shape[-1] // 2, dim=-1)

    def rotate(x):
        return torch.cat([modeling_gptj.apply_rotary_pos_emb(x[..., :rotary_dim], sin, cos), x[..., rotary_dim:]], dim=-1)

    keys = {"hidden_size": HEADS * HEAD_DIM, "num_attention_heads": HEADS, "num_hidden_layers": 1, "vocab_size": 8,
            "intermediate_size": 8, "rotary_pct": rotary_dim / HEAD_DIM, "rotary_emb_base": 10000,
            "max_position_embeddings": MAX_POSITIONS, "rotary_interleaved": True}
    inv_freq = 1.0 / (10000 ** (torch.arange(0, rotary_dim, 2, dtype=torch.int64) / rotary_dim))
    return keys, rotate(q), rotate(k), inv_freq, 1.0


generator = torch.Generator().manual_seed(2024)
tensors, cases = {}, []
for name, rotary_pct, rope_scaling, start, length in CASES + [("gptj", None, None, 0, 96), ("gptj_cached", None, None, 40, 24)]:
    q = torch.randn(1, length, HEADS, HEAD_DIM, generator=generator, dtype=torch.float64)
    k = q.flip(1)
    for precision in ("float64", "float32"):
        if precision == "float64":
            with Float64():
                result = neox_case(rotary_pct, rope_scaling, start, length, q, k) if rotary_pct else gptj_case(16, start, length, q, k)
        else:
            qf, kf = q.float(), k.float()
            result = neox_case(rotary_pct, rope_scaling, start, length, qf, kf) if rotary_pct else gptj_case(16, start, length, qf, kf)
        keys, q_out, k_out, inv_freq, scaling = result
        if precision == "float64":
            tensors.update({f"{name}.q": q, f"{name}.q_rotated": q_out.double(),
                            f"{name}.inv_freq": inv_freq.double(), f"{name}.attention_scaling": torch.tensor([scaling], dtype=torch.float64)})
            cases.append({"name": name, "config": keys, "offset": start, "length": length})
        else:
            tensors[f"{name}.q_rotated_float32"] = q_out.float().contiguous()

save_file({key: value.contiguous() for key, value in tensors.items()}, os.path.join(here, "rope_parity.safetensors"))
with open(os.path.join(here, "rope_cases.json"), "w") as file:
    json.dump({"torch": torch.__version__, "transformers": transformers.__version__, "cases": cases}, file, indent=1)
print(f"{len(cases)} cases with torch {torch.__version__}, transformers {transformers.__version__}")
