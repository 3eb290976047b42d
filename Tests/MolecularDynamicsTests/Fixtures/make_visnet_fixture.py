#!/usr/bin/env python3
"""Writes visnet_reference.json and visnet.safetensors: AI2BMD's own ViSNet (microsoft/AI2BMD,
src/ViSNet/model) in float64 on an ethanol frame and a water trimer, for the ViSNet parity test.

AI2BMD's code is read from a checkout given on the command line (it is not copied here). Its
compiled helpers are replaced by plain-torch equivalents installed as modules before the import:
torch_scatter.scatter (index_add), torch_cluster.radius_graph (all pairs within r, both
directions, self-loops when asked; AI2BMD's max_num_neighbors is never reached here) and an unused
torch_sparse.SparseTensor. torch_geometric's MessagePassing is the real one (PyPI
torch_geometric 2.8.1).

    git clone https://github.com/microsoft/AI2BMD /tmp/AI2BMD    # or any checkout
    pip install torch torch_geometric safetensors
    python3 Tests/MolecularDynamicsTests/Fixtures/make_visnet_fixture.py /tmp/AI2BMD
"""
import json
import os
import sys
import types

import torch

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.abspath(os.path.join(here, "..", "..", ".."))


def install_helpers():
    scatter_module = types.ModuleType("torch_scatter")

    def scatter(src, index, dim=0, out=None, dim_size=None, reduce="sum"):
        assert reduce in ("sum", "add") and dim == 0
        size = int(index.max()) + 1 if dim_size is None else dim_size
        result = torch.zeros((size,) + tuple(src.shape[1:]), dtype=src.dtype)
        return result.index_add(0, index, src)

    scatter_module.scatter = scatter
    cluster = types.ModuleType("torch_cluster")

    def radius_graph(pos, r, batch=None, loop=False, max_num_neighbors=32, flow="source_to_target"):
        n = pos.shape[0]
        batch = torch.zeros(n, dtype=torch.long) if batch is None else batch
        distance = torch.cdist(pos.double(), pos.double())
        keep = (distance < r) & (batch[:, None] == batch[None, :])
        if not loop:
            keep &= ~torch.eye(n, dtype=torch.bool)
        target, source = keep.nonzero(as_tuple=True)
        assert int(keep.sum(1).max()) <= max_num_neighbors + (1 if loop else 0)
        return torch.stack([source, target])  # edge_index[0] = neighbour j, edge_index[1] = centre i

    cluster.radius_graph = radius_graph
    sparse = types.ModuleType("torch_sparse")
    sparse.SparseTensor = object
    sys.modules.update({"torch_scatter": scatter_module, "torch_cluster": cluster, "torch_sparse": sparse})


def main():
    checkout = sys.argv[1]
    import torch_geometric.nn  # before the stand-ins, so PyG does not probe them as its optional extensions
    install_helpers()
    sys.modules.setdefault("pytorch_lightning", types.ModuleType("pytorch_lightning"))
    utilities = types.ModuleType("pytorch_lightning.utilities")
    utilities.rank_zero_warn = print
    sys.modules["pytorch_lightning.utilities"] = utilities
    sys.path.insert(0, os.path.join(checkout, "src"))
    from ViSNet.model.visnet import create_model  # AI2BMD's factory

    from ase.io import read
    from safetensors.torch import save_file

    args = {"lmax": 2, "vecnorm_type": "none", "trainable_vecnorm": False, "num_heads": 4, "num_layers": 3,
            "embedding_dimension": 16, "num_rbf": 8, "rbf_type": "expnorm", "trainable_rbf": False, "activation": "silu",
            "attn_activation": "silu", "max_z": 100, "cutoff": 4.0, "max_num_neighbors": 32, "model": "ViSNetBlock",
            "prior_model": None, "output_model": "Scalar", "reduce_op": "add", "derivative": True}
    torch.set_default_dtype(torch.float64)  # AI2BMD makes some tensors with the default dtype
    torch.manual_seed(5)
    model = create_model(args)
    with torch.no_grad():  # non-zero biases everywhere, so a misplaced one shows
        for key, value in model.state_dict().items():
            if key.endswith("bias"):
                value.normal_(0, 0.2)
    ethanol = read(os.path.join(root, "Datasets", "mlff", "ethanol_gfn2xtb.extxyz"), index=0)
    water = {"numbers": [8, 1, 1, 8, 1, 1, 8, 1, 1],
             "positions": [[0.0, 0.0, 0.0], [0.96, 0.0, 0.0], [-0.24, 0.93, 0.0], [2.8, 0.1, 0.2], [3.3, 0.8, -0.2], [3.2, -0.7, 0.1],
                           [1.4, 2.5, 0.3], [1.0, 1.7, 0.2], [2.2, 2.4, -0.3]]}
    structures = {"ethanol": {"numbers": ethanol.numbers.tolist(), "positions": ethanol.positions.tolist()}, "water_trimer": water}
    outputs = {}
    for name, s in structures.items():
        data = {"z": torch.tensor(s["numbers"]), "pos": torch.tensor(s["positions"], dtype=torch.float64),
                "batch": torch.zeros(len(s["numbers"]), dtype=torch.long)}
        energy, forces = model(data)
        outputs[name] = {"energy": float(energy.detach()[0, 0]), "forces": forces.detach().tolist()}
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, os.path.join(here, "visnet.safetensors"))
    reference = {"configuration": {k: args[k] for k in ("lmax", "num_heads", "num_layers", "embedding_dimension", "num_rbf", "cutoff")},
                 "structures": structures, "outputs": outputs}
    with open(os.path.join(here, "visnet_reference.json"), "w") as handle:
        json.dump(reference, handle, indent=1)
    print({k: v["energy"] for k, v in outputs.items()})


if __name__ == "__main__":
    main()
