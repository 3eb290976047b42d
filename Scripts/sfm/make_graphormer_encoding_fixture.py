#!/usr/bin/env python3
"""Graphormer's encodings computed by upstream's own code, as the reference for SciZoo's.

Runs microsoft/Graphormer's `graphormer/data/wrapper.py` (`preprocess_item`, which calls the Cython
`algos.pyx` Floyd–Warshall and path features) and `graphormer/data/collator.py` (`collator`) on
molecular graphs (OGB's smiles2graph of NCI molecules) and random graphs (disconnected ones and a
single atom included), in batches, and writes inputs and collated outputs to HDF5. Upstream's code
is imported from a checkout given on the command line; none of it is copied here.

    git --git-dir=/work/.mirror/microsoft+Graphormer/repo archive HEAD graphormer | tar -x -C /tmp/graphormer
    pip install 'cython<3' torch   # algos.pyx uses Python 2's `long`, which Cython 3 rejects;
    pip install torch_geometric ogb==1.3.6 rdkit h5py
    python3 Scripts/sfm/make_graphormer_encoding_fixture.py /tmp/graphormer Tests/MolecularGraphsTests/Fixtures/graphormer_encodings.h5

Layout: one group per batch `batch_K` with the inputs of each graph (`graph_G/node_feat`,
`edge_index`, `edge_feat`) and the collator's outputs (`x`, `in_degree`, `spatial_pos`,
`edge_input`, `attn_bias` with −inf kept), plus attributes multi_hop_max_dist and spatial_pos_max.
"""
import os
import sys
import types

import h5py
import numpy as np
import torch


def load_upstream(root):
    sys.path.insert(0, root)
    # wrapper.py imports dataset classes it does not need here; give it stand-ins when absent.
    try:
        import ogb.lsc.pcqm4mv2_pyg  # noqa: F401
    except Exception:
        stub = types.ModuleType("ogb.lsc.pcqm4mv2_pyg")
        stub.PygPCQM4Mv2Dataset = object
        sys.modules["ogb.lsc.pcqm4mv2_pyg"] = stub
    import importlib
    # The package's __init__ pulls in fairseq; the data modules do not need it.
    for name, folder in (("graphormer", "graphormer"), ("graphormer.data", "graphormer/data")):
        package = types.ModuleType(name)
        package.__path__ = [os.path.join(root, folder)]
        sys.modules[name] = package
    wrapper = importlib.import_module("graphormer.data.wrapper")
    collator = importlib.import_module("graphormer.data.collator")
    return wrapper.preprocess_item, collator.collator


class Item(types.SimpleNamespace):
    pass


def molecule_graphs():
    from ogb.utils import smiles2graph
    smiles = ["CC(=O)Nc1ccc(O)cc1", "c1ccc2ccccc2c1", "OC(=O)CC(O)(CC(O)=O)C(O)=O", "C1CC2CCC1CC2",
              "CN1C=NC2=C1C(=O)N(C(=O)N2C)C", "[Na+].[Cl-]", "C", "O=[N+]([O-])c1ccc(Cl)cc1", "CCCCCCCCCCCC"]
    return [smiles2graph(s) for s in smiles]


def random_graphs(rng, count):
    graphs = []
    for _ in range(count):
        n = int(rng.integers(1, 14))
        edges = set()
        for _ in range(int(rng.integers(0, 2 * n))):
            i, j = rng.integers(0, n, 2)
            if i != j:
                edges.add((min(i, j), max(i, j)))
        pairs = sorted(edges)
        index = np.array([[i for i, j in pairs] + [j for i, j in pairs], [j for i, j in pairs] + [i for i, j in pairs]], dtype=np.int64).reshape(2, -1)
        # Keep OGB's order (each bond then its reverse).
        if pairs:
            index = np.array([[a for i, j in pairs for a in (i, j)], [b for i, j in pairs for b in (j, i)]], dtype=np.int64)
        bond = rng.integers(0, [5, 6, 2], size=(len(pairs), 3))
        feats = np.repeat(bond, 2, axis=0) if pairs else np.zeros((0, 3), dtype=np.int64)
        node = rng.integers(0, [119, 5, 12, 12, 10, 6, 6, 2, 2], size=(n, 9))
        graphs.append({"node_feat": node.astype(np.int64), "edge_index": index, "edge_feat": feats.astype(np.int64), "num_nodes": n})
    return graphs


def main():
    root, path = sys.argv[1], sys.argv[2]
    preprocess_item, collator = load_upstream(root)
    rng = np.random.default_rng(2026)
    graphs = molecule_graphs() + random_graphs(rng, 24)
    batches = [graphs[i:i + 5] for i in range(0, len(graphs), 5)]
    settings = dict(max_node=128, multi_hop_max_dist=5, spatial_pos_max=1024)
    with h5py.File(path + ".tmp", "w") as out:
        out.attrs["source"] = "microsoft/Graphormer graphormer/data/{wrapper,collator,algos}.py(x), run by this script"
        for b, batch in enumerate(batches):
            group = out.create_group(f"batch_{b}")
            for key, value in settings.items():
                group.attrs[key] = value
            items = []
            for g, graph in enumerate(batch):
                sub = group.create_group(f"graph_{g}")
                for key in ("node_feat", "edge_index", "edge_feat"):
                    sub.create_dataset(key, data=graph[key].astype(np.int64))
                item = Item(x=torch.from_numpy(graph["node_feat"]), edge_index=torch.from_numpy(graph["edge_index"]),
                            edge_attr=torch.from_numpy(graph["edge_feat"]), y=torch.zeros(1), idx=g)
                items.append(preprocess_item(item))
            spatial_pos_max = 3 if b == 1 else settings["spatial_pos_max"]  # one batch masks far pairs
            group.attrs["spatial_pos_max"] = spatial_pos_max
            batch_out = collator(items, max_node=settings["max_node"], multi_hop_max_dist=settings["multi_hop_max_dist"],
                                 spatial_pos_max=spatial_pos_max)
            for key in ("x", "in_degree", "spatial_pos", "edge_input"):
                group.create_dataset(key, data=batch_out[key].numpy().astype(np.int64), compression="gzip", compression_opts=9)
            group.create_dataset("attn_bias", data=batch_out["attn_bias"].numpy().astype(np.float32), compression="gzip", compression_opts=9)
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main()
