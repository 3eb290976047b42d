#!/usr/bin/env python3
"""Writes the GPT-NeoX parity fixture next to this file, with the real reference.

Run by a developer, never by CI (it needs PyTorch and transformers):

    pip install torch transformers safetensors
    python3 Tests/GenomeLMTests/Parity/make_gptneox_parity.py

It builds a tiny GPT-NeoX (hidden 64, 4 heads, 2 layers, rotary_pct 0.25, vocab 69) with a fixed
seed and saves:
  config.json        the configuration as current transformers writes it
  model.safetensors  its weights under Hugging Face's names (transformers 5 calls embed_out lm_head)
  expected.safetensors
      input_ids, attention_mask        a [2, 16] batch; row 1 ends in 4 padding positions
      logits                           [2, 16, 69], float32
      loss_real_tokens                 labels −100 on padding (SciZoo's default loss)
      loss_with_padding                labels = input_ids (GenSLM's loss)
      grad.<name>                      gradients of loss_real_tokens for a few parameters
  versions.txt       the torch and transformers versions used
"""
import os
import torch
import transformers
from safetensors.torch import save_file
from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

here = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(1234)
config = GPTNeoXConfig(vocab_size=69, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                       intermediate_size=256, rotary_pct=0.25, rotary_emb_base=10000, max_position_embeddings=64,
                       hidden_act="gelu", use_parallel_residual=True, layer_norm_eps=1e-5, initializer_range=0.02,
                       tie_word_embeddings=False, attn_implementation="eager")
model = GPTNeoXForCausalLM(config).float()
model.eval()  # no dropout (GPT-NeoX has none by default anyway)

generator = torch.Generator().manual_seed(99)
input_ids = torch.randint(5, 69, (2, 16), generator=generator)
attention_mask = torch.ones(2, 16, dtype=torch.long)
attention_mask[1, 12:] = 0
input_ids[1, 12:] = 0

labels_real = input_ids.clone()
labels_real[attention_mask == 0] = -100
out = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels_real)
out.loss.backward()
with torch.no_grad():
    loss_padding = model(input_ids=input_ids, attention_mask=attention_mask, labels=input_ids).loss

gradient_names = ["gpt_neox.embed_in.weight", "gpt_neox.layers.0.attention.query_key_value.weight",
                  "gpt_neox.layers.1.mlp.dense_4h_to_h.weight", "gpt_neox.layers.1.input_layernorm.weight",
                  "gpt_neox.final_layer_norm.bias", "lm_head.weight"]
parameters = dict(model.named_parameters())
expected = {
    "input_ids": input_ids.to(torch.int64).contiguous(),
    "attention_mask": attention_mask.to(torch.int64).contiguous(),
    "logits": out.logits.detach().float().contiguous(),
    "loss_real_tokens": out.loss.detach().reshape(1).float(),
    "loss_with_padding": loss_padding.detach().reshape(1).float(),
}
for name in gradient_names:
    expected["grad." + name] = parameters[name].grad.detach().float().contiguous()

save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, os.path.join(here, "model.safetensors"))
save_file(expected, os.path.join(here, "expected.safetensors"))
config.to_json_file(os.path.join(here, "config.json"))
with open(os.path.join(here, "versions.txt"), "w") as f:
    f.write(f"torch {torch.__version__}\ntransformers {transformers.__version__}\n")
print("wrote", here, "loss", out.loss.item(), "loss with padding", loss_padding.item())
