#!/usr/bin/env python3
"""Runs upstream OpenFold (aqlaboratory/openfold, openfold/model/*.py) on SciZoo's weights and
features and writes what SciZoo's AlphaFold must reproduce: each Evoformer sub-block's update,
the extra-MSA block, one invariant point attention, the whole structure module, the template
stack, and the full model's atoms, pLDDT and pTM after every recycling pass; and the features:
upstream's data_pipeline on short_query's alignments, its predict-mode feature_pipeline on
SciZoo's raw features with BERT masking off and `torch.randperm` replaying SciZoo's row draws,
its HhsearchHitFeaturizer on short_query's HHR hits with the fixture's mmCIF folder (2q2k.cif
only: the hits without a file are left out, since upstream stops at a missing file), and its
template transforms (aatype fix, pseudo-β, torsion angles, angle and pair features).

SciZoo makes the inputs: a model_1_ptm-width model with 2 Evoformer blocks and 1 extra-MSA block,
seeded weights with noise on every array (written as an AlphaFold .npz, which upstream loads with
its own `import_jax_weights_`), and one pass's features of OpenFold's short_query cropped to its
residues 50–61 with the template 2Q2K_A (which covers 55–61). This script asks `swift test` for them (`SCIZOO_OPENFOLD_PARITY_INPUTS`), so one command
remakes the fixture. The same features serve every recycling pass. Upstream runs in float64 on
float32 numbers; its CUDA-only attention core is not imported (its plain torch softmax path is
the one used on the CPU). Nothing of upstream is copied: its modules are imported from a checkout.

    git clone https://github.com/aqlaboratory/openfold && git -C openfold checkout ce0029e
    pip install torch==2.4.1 numpy scipy h5py ml_collections dm-tree biopython modelcif pandas
    python3 Scripts/openfold/make_upstream_parity_fixture.py --openfold openfold \
        --output Tests/ProteinFoldingTests/Fixtures/openfold_upstream_parity.h5
"""
import argparse
import os
import subprocess
import sys
import tempfile
import types

import h5py
import numpy as np
import torch

parser = argparse.ArgumentParser()
parser.add_argument("--openfold", required=True, help="a checkout of aqlaboratory/openfold (its openfold/ is imported)")
parser.add_argument("--output", required=True, help="the fixture to write (HDF5)")
parser.add_argument("--inputs", help="a folder holding weights.npz and features.h5 already (default: made by swift test)")
parser.add_argument("--scratch-path", help="swift's build folder (default: .build)")
args = parser.parse_args()
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

inputs = args.inputs
if inputs is None:
    inputs = tempfile.mkdtemp(prefix="openfold-parity-")
    environment = dict(os.environ, SCIZOO_OPENFOLD_PARITY_INPUTS=inputs)
    scratch = ["--scratch-path", args.scratch_path] if args.scratch_path else []
    # The test also compares the digest with the fixture's: a first run (or changed weights) fails
    # that check after writing the inputs, which is expected here.
    subprocess.run(["swift", "test", "-c", "release", *scratch, "--filter", "OpenFoldUpstreamParityTests/weightsAreTheFixtures"],
                   cwd=root, env=environment)
    if not os.path.exists(os.path.join(inputs, "features.h5")):
        sys.exit("swift test did not write the inputs")

# The in-place softmax `attn_core_inplace_cuda` is a CUDA extension (IPA calls it when updating in
# place; the attention core around it refuses float64): both are replaced by the plain torch softmax
# they compute.
inplace_softmax = types.ModuleType("attn_core_inplace_cuda")
inplace_softmax.forward_ = lambda logits, rows, columns: logits.copy_(torch.softmax(logits, dim=-1))
sys.modules["attn_core_inplace_cuda"] = inplace_softmax
sys.path.insert(0, os.path.abspath(args.openfold))
import openfold.model.primitives as primitives  # noqa: E402


def plain_attention_core(q, k, v, bias_1=None, bias_2=None):
    logits = torch.matmul(q, k.transpose(-1, -2))
    for bias in (bias_1, bias_2):
        if bias is not None:
            logits = logits + bias
    return torch.matmul(torch.softmax(logits, dim=-1), v)


primitives.attention_core = plain_attention_core
from openfold.config import model_config  # noqa: E402
from openfold.data import data_transforms, parsers, templates  # noqa: E402
from openfold.utils.feats import build_template_angle_feat, build_template_pair_feat  # noqa: E402
from openfold.data.data_transforms import make_atom14_masks  # noqa: E402
from openfold.data.data_pipeline import DataPipeline  # noqa: E402
from openfold.data.feature_pipeline import FeaturePipeline  # noqa: E402
from openfold.model.model import AlphaFold  # noqa: E402
from openfold.utils.import_weights import assign, generate_translation_dict, process_translation_dict  # noqa: E402
from openfold.utils.rigid_utils import Rigid  # noqa: E402

torch.set_grad_enabled(True)  # upstream then updates out of place, so every hooked output is the update itself
with h5py.File(os.path.join(inputs, "features.h5"), "r") as f:
    features = {name: f[name][()] for name in f if isinstance(f[name], h5py.Dataset)}
    passes = int(f.attrs["passes"])
    evoformer_blocks, extra_blocks = int(f.attrs["evoformer_blocks"]), int(f.attrs["extra_blocks"])
    weights_digest = f.attrs["weights_digest"]
    template_group = f["templates"]
    template_raw = {"aatype": template_group["aatype"][()], "all_atom_positions": template_group["all_atom_positions"][()],
                    "all_atom_mask": template_group["all_atom_mask"][()]}
    transforms = f["transforms"]
    raw_features = {name: transforms["raw"][name][()] for name in transforms["raw"]}
    row_order, extra_kept = transforms["row_order"][()], transforms["extra_kept"][()]
    max_msa_clusters, max_extra_msa = int(transforms.attrs["max_msa_clusters"]), int(transforms.attrs["max_extra_msa"])


def upstream_features():
    """Upstream's predict-mode feature pipeline on SciZoo's raw features (same rows in the same order),
    with BERT masking off and torch.randperm replaying SciZoo's two draws: sample_msa's order of the
    rows after the query, then crop_extra_msa's choice of extra rows."""
    data_config = model_config("model_1_ptm").data
    data_config.common.use_templates = False
    data_config.common.max_recycling_iters = 0
    data_config.predict.masked_msa_replace_fraction = 0.0
    data_config.predict.max_msa_clusters = max_msa_clusters
    data_config.predict.max_extra_msa = max_extra_msa
    extra_rows = len(row_order) - max_msa_clusters
    crop = list(extra_kept) + [i for i in range(extra_rows) if i not in set(extra_kept)]
    draws = [torch.tensor(row_order[1:] - 1), torch.tensor(crop)]
    original = torch.randperm

    def replay(n, *positional, **keywords):
        draw = draws.pop(0)
        assert len(draw) == n, f"torch.randperm({n}) where SciZoo drew {len(draw)}"
        return draw.clone()
    torch.randperm = replay
    try:
        batch = FeaturePipeline(data_config).process_features(dict(raw_features), mode="predict")
    finally:
        torch.randperm = original
    assert not draws, "upstream drew fewer permutations than SciZoo"
    last = {key: value[..., 0] for key, value in batch.items()}  # one recycling iteration
    extra_feat = torch.cat([torch.nn.functional.one_hot(last["extra_msa"].long(), 23).double(),
                            last["extra_has_deletion"].double().unsqueeze(-1), last["extra_deletion_value"].double().unsqueeze(-1)], dim=-1)
    return {"aatype": last["aatype"], "residue_index": last["residue_index"], "target_feat": last["target_feat"],
            "msa_feat": last["msa_feat"], "extra_msa_feat": extra_feat}


config = model_config("model_1_ptm")
config.model.evoformer_stack.no_blocks = evoformer_blocks
config.model.extra_msa.extra_msa_stack.no_blocks = extra_blocks
config.globals.chunk_size = None
model = AlphaFold(config)
# import_jax_weights_ as upstream runs it: every array upstream's model_1_ptm needs, templates included.
data = np.load(os.path.join(inputs, "weights.npz"))
translation = process_translation_dict(generate_translation_dict(model, "model_1_ptm"))
absent = [key for key in translation if key not in data]
assert not absent, f"arrays missing from weights.npz: {absent}"
unused = [key for key in data.keys() if key not in translation]
assert not unused, f"arrays upstream does not use: {unused}"
assign(translation, data)
model = model.double().eval()


def template_transforms(raw):
    """Upstream's predict-mode template transforms on raw template features (float64)."""
    count = raw["all_atom_positions"].shape[0]
    protein = {"template_aatype": torch.nn.functional.one_hot(torch.tensor(raw["aatype"], dtype=torch.int64).reshape(count, -1), 22).double(),
               "template_all_atom_positions": torch.tensor(raw["all_atom_positions"], dtype=torch.float64),
               "template_all_atom_mask": torch.tensor(raw["all_atom_mask"], dtype=torch.float64)}
    protein = data_transforms.fix_templates_aatype(protein)
    protein = data_transforms.make_template_mask(protein)
    protein = data_transforms.make_pseudo_beta("template_")(protein)
    protein = data_transforms.atom37_to_torsion_angles("template_")(protein)
    protein["template_mask"] = protein["template_mask"].double()
    return protein


template_batch = template_transforms(template_raw)

residues, rows, extra = features["aatype"].shape[0], features["msa_feat"].shape[0], features["extra_msa_feat"].shape[0]
extra_feat = features["extra_msa_feat"].astype(np.float64)
batch = {
    "aatype": torch.tensor(features["aatype"], dtype=torch.int64),
    "residue_index": torch.tensor(features["residue_index"], dtype=torch.int64),
    "target_feat": torch.tensor(features["target_feat"], dtype=torch.float64),
    "msa_feat": torch.tensor(features["msa_feat"], dtype=torch.float64),
    "seq_mask": torch.ones(residues, dtype=torch.float64),
    "msa_mask": torch.ones(rows, residues, dtype=torch.float64),
    "pair_mask": torch.ones(residues, residues, dtype=torch.float64),
    "extra_msa": torch.tensor(extra_feat[..., :23].argmax(-1), dtype=torch.int64),
    "extra_has_deletion": torch.tensor(extra_feat[..., 23]),
    "extra_deletion_value": torch.tensor(extra_feat[..., 24]),
    "extra_msa_mask": torch.ones(extra, residues, dtype=torch.float64),
}
assert np.array_equal(torch.nn.functional.one_hot(batch["extra_msa"], 23).numpy(), extra_feat[..., :23]), "extra_msa_feat is not one-hot"
batch.update(template_batch)
batch = make_atom14_masks(batch)
batch = {key: torch.stack([value] * passes, dim=-1) for key, value in batch.items()}  # one recycling axis, last

# Every call of the hooked modules, inputs and outputs cloned at once; the last pass is kept.
calls = {}


def record(name):
    def hook(module, positional, keywords, output):
        calls.setdefault(name, []).append({
            "args": [a.detach().clone() if torch.is_tensor(a) else a for a in positional],
            "kwargs": {k: (v.detach().clone() if torch.is_tensor(v) else v) for k, v in keywords.items()},
            "output": output.detach().clone() if torch.is_tensor(output) else output,
        })
    return hook


def record_inputs(name):
    def hook(module, positional, keywords):
        calls.setdefault(name, []).append({
            "args": [a.detach().clone() if torch.is_tensor(a) else a for a in positional],
            "kwargs": {k: (v.detach().clone() if torch.is_tensor(v) else v) for k, v in keywords.items()},
        })
    return hook


block = model.evoformer.blocks[0]
sub_blocks = {
    "msa_row_attention": block.msa_att_row, "msa_column_attention": block.msa_att_col,
    "msa_transition": block.msa_transition, "outer_product_mean": block.outer_product_mean,
    "triangle_multiplication_outgoing": block.pair_stack.tri_mul_out,
    "triangle_multiplication_incoming": block.pair_stack.tri_mul_in,
    "triangle_attention_starting": block.pair_stack.tri_att_start,
    "triangle_attention_ending": block.pair_stack.tri_att_end,
    "pair_transition": block.pair_stack.pair_transition,
}
for name, module in sub_blocks.items():
    module.register_forward_hook(record(name), with_kwargs=True)
block.register_forward_pre_hook(record_inputs("evoformer_block"), with_kwargs=True)
model.extra_msa_stack.blocks[0].register_forward_hook(record("extra_msa_block"), with_kwargs=True)
model.structure_module.register_forward_hook(record("structure_module"), with_kwargs=True)


def record_templates(module, positional, keywords, output):
    calls.setdefault("template_embedder", []).append({
        "pair_in": positional[1].detach().clone(),
        "pair_update": output["template_pair_embedding"].detach().clone(),
        "single_embedding": output["template_single_embedding"].detach().clone()})


model.template_embedder.register_forward_hook(record_templates, with_kwargs=True)
model.structure_module.ipa.register_forward_hook(record("ipa"), with_kwargs=True)

outputs = model(batch)


def argument(call, index, name):
    return call["args"][index] if len(call["args"]) > index else call["kwargs"][name]


def store(group, name, value):
    array = np.atleast_1d(value.detach().numpy() if torch.is_tensor(value) else np.asarray(value))
    group.create_dataset(name, data=array.astype(np.float32), compression="gzip", compression_opts=9, shuffle=True)


with h5py.File(args.output + ".tmp", "w") as f:
    f.attrs["upstream"] = "aqlaboratory/openfold " + subprocess.run(
        ["git", "-C", args.openfold, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    f.attrs["weights_digest"] = weights_digest
    f.attrs["passes"] = passes

    evoformer = f.create_group("evoformer_block0")
    entry = calls["evoformer_block"][-1]
    store(evoformer, "msa", argument(entry, 0, "m"))
    store(evoformer, "pair", argument(entry, 1, "z"))
    store(evoformer, "msa_mask", entry["kwargs"]["msa_mask"])
    for name in sub_blocks:
        output = calls[name][-1]["output"]
        # PairStack runs the ending-node attention on z transposed ([j, i]) and transposes back after.
        store(evoformer, name, output.transpose(-2, -3) if name == "triangle_attention_ending" else output)

    extra_group = f.create_group("extra_msa_block0")
    entry = calls["extra_msa_block"][-1]
    store(extra_group, "msa", argument(entry, 0, "m"))
    store(extra_group, "pair", argument(entry, 1, "z"))
    store(extra_group, "msa_out", entry["output"][0])
    store(extra_group, "pair_out", entry["output"][1])

    # The second IPA call of the last pass: its frames are no longer the identity.
    no_blocks = config.model.structure_module.no_blocks
    entry = calls["ipa"][-no_blocks + 1]
    ipa = f.create_group("ipa")
    frames = argument(entry, 2, "r")
    store(ipa, "single", argument(entry, 0, "s"))
    store(ipa, "pair", argument(entry, 1, "z"))
    store(ipa, "rotation", frames.get_rots().get_rot_mats())
    store(ipa, "translation", frames.get_trans())
    store(ipa, "output", entry["output"])

    entry = calls["structure_module"][-1]
    structure = f.create_group("structure_module")
    evoformer_output = argument(entry, 0, "evoformer_output_dict")
    store(structure, "single_in", evoformer_output["single"])
    store(structure, "pair_in", evoformer_output["pair"])
    sm = entry["output"]
    trajectory = Rigid.from_tensor_7(sm["frames"])
    store(structure, "rotations", trajectory.get_rots().get_rot_mats())
    store(structure, "translations", trajectory.get_trans())
    store(structure, "angles", sm["angles"][-1])
    store(structure, "unnormalized_angles", sm["unnormalized_angles"][-1])
    store(structure, "positions", sm["positions"][-1])
    store(structure, "single", sm["single"])

    entry = calls["template_embedder"][-1]
    group = f.create_group("template_embedder")
    for name in ("pair_in", "pair_update", "single_embedding"):
        store(group, name, entry[name])

    group = f.create_group("template_inputs")
    group.create_dataset("angle_feat", data=build_template_angle_feat(template_batch).numpy())
    pair_config = config.model.template
    first = {key: value[0] for key, value in template_batch.items()}
    group.create_dataset("pair_feat", data=build_template_pair_feat(
        {key: value[None] for key, value in first.items()}, use_unit_vector=pair_config.use_unit_vector, inf=pair_config.inf,
        eps=pair_config.eps, **pair_config.distogram).numpy())
    group.create_dataset("row_mask", data=template_batch["template_torsion_angles_mask"][..., 2].numpy())

    # Upstream's template search on the same hits: HhsearchHitFeaturizer with the fixture's mmCIF
    # folder. Hits whose <pdb id>.cif is not there are left out (upstream raises FileNotFoundError).
    query = os.path.join(root, "..", "shared", "fixtures", "openfold", "short_query")
    mmcif_folder = os.path.join(root, "..", "shared", "fixtures", "openfold", "2q2k_A", "ground_truth")
    with open(os.path.join(query, "alignments", "pdb70_hits.hhr")) as handle:
        hits = parsers.parse_hhr(handle.read())
    hits = [hit for hit in hits if os.path.exists(os.path.join(mmcif_folder, hit.name[:4].lower() + ".cif"))]
    featurizer = templates.HhsearchHitFeaturizer(mmcif_dir=mmcif_folder, max_template_date="2099-12-31", max_hits=4,
                                                 kalign_binary_path="kalign")
    query_sequence = "".join(line.strip() for line in open(os.path.join(query, "short.fasta")) if not line.startswith(">"))
    found = featurizer.get_templates(query_sequence, hits).features
    group = f.create_group("template_search")
    for name in ("template_aatype", "template_all_atom_positions", "template_all_atom_mask", "template_sum_probs"):
        store(group, name, found[name][0])
    group.attrs["template_domain_names"] = found["template_domain_names"][0].decode()

    # Upstream's data pipeline on short_query's alignments (its row order follows os.listdir, so
    # the test compares rows as a multiset).
    raw = DataPipeline(template_featurizer=None).process_fasta(os.path.join(query, "short.fasta"), os.path.join(query, "alignments"))
    group = f.create_group("raw")
    for name in ("aatype", "between_segment_residues", "residue_index", "seq_length", "num_alignments", "msa", "deletion_matrix_int"):
        group.create_dataset(name, data=raw[name].astype(np.int32), compression="gzip", compression_opts=9, shuffle=True)

    group = f.create_group("features")
    for name, value in upstream_features().items():
        if name in ("aatype", "residue_index"):
            group.create_dataset(name, data=value.numpy().astype(np.int64))
        else:
            store(group, name, value)

    full = f.create_group("model")
    store(full, "positions", outputs["sm"]["positions"][-1])
    store(full, "single", outputs["sm"]["single"])
    store(full, "pair", outputs["pair"])
    store(full, "plddt", outputs["plddt"])
    store(full, "ptm", outputs["ptm_score"])
os.replace(args.output + ".tmp", args.output)
print(f"wrote {args.output} ({os.path.getsize(args.output):,} bytes): {residues} residues, {rows} clusters, {extra} extra rows, "
      f"{passes} passes; pTM {float(outputs['ptm_score']):.4f}, mean pLDDT {float(outputs['plddt'].mean()):.2f}")
