#!/usr/bin/env python3
"""OGB's featurisation of real SMILES, as the reference for SciZoo's MolecularGraphs.

Reads RDKit's bundled NCI sample (`RDConfig.RDDataDir/NCI/first_5K.smi`: 5,000 structures from the
NCI Open Database, a US-government public-domain collection; RDKit ships it under BSD) and writes,
for every SMILES, `ogb.utils.smiles2graph`'s arrays to an HDF5 file, in two sets:

  nci_written   the SMILES as NCI wrote them (mostly Kekulé, no stereo)
  nci_isomeric  RDKit's canonical isomeric SMILES of one stereoisomer per molecule (lower-case
                aromatic atoms; for molecules with unassigned stereocentres or double bonds, one
                isomer drawn with a fixed seed), so the aromatic and stereo paths are exercised

  sdf           the first 120 NCI molecules without potential stereo elements that RDKit embeds
                in 3D (ETKDG, seed 7, hydrogens explicit), as V2000 and as V3000 SD files
                (`sdf_v2000`, `sdf_v3000`, each the file's UTF-8 bytes); the expected graphs are those of
                their SMILES, so the test checks that SDF input gives the same graph

Layout per set (group): smiles [M] str, line [M] int64 (line in first_5K.smi), ok [M] int8
(RDKit parsed it), num_nodes [M], num_edges [M], node_feat [ΣN, 9], edge_index [2, ΣE],
edge_feat [ΣE, 3] (int16). Versions used are stored as root attributes.

    pip install rdkit==2026.9.1 ogb==1.3.6 h5py
    python3 Scripts/sfm/make_ogb_featurisation_fixture.py Tests/MolecularGraphsTests/Fixtures/ogb_nci.h5
"""
import random
import sys

import h5py
import numpy as np
import ogb
import rdkit
from ogb.utils import smiles2graph
from rdkit import Chem, RDConfig, RDLogger
from rdkit.Chem.EnumerateStereoisomers import EnumerateStereoisomers, StereoEnumerationOptions

RDLogger.DisableLog("rdApp.*")


def read_nci():
    rows = []
    with open(f"{RDConfig.RDDataDir}/NCI/first_5K.smi") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                rows.append((line.split()[0], number))
    return rows


def isomeric(rows, seed=2026):
    rng = random.Random(seed)
    out = []
    for smiles, number in rows:
        mol = Chem.MolFromSmiles(smiles)
        if mol is None:
            continue
        options = StereoEnumerationOptions(onlyUnassigned=True, maxIsomers=16, unique=True)
        isomers = list(EnumerateStereoisomers(mol, options=options))
        chosen = rng.choice(isomers) if isomers else mol
        out.append((Chem.MolToSmiles(chosen), number))
    return out


def sdf_rows(rows, count=120):
    from rdkit.Chem import AllChem
    chosen, v2000, v3000 = [], [], []
    for smiles, number in rows:
        mol = Chem.MolFromSmiles(smiles)
        if mol is None or "." in smiles or Chem.FindPotentialStereo(mol):
            continue
        withH = Chem.AddHs(mol)
        if AllChem.EmbedMolecule(withH, randomSeed=7) != 0:
            continue
        chosen.append((smiles, number))
        v2000.append(Chem.MolToMolBlock(withH) + "$$$$\n")
        v3000.append(Chem.MolToV3KMolBlock(withH) + "$$$$\n")
        if len(chosen) == count:
            break
    return chosen, "".join(v2000), "".join(v3000)


def write_set(group, rows):
    ok, nodes, edges, node_feat, edge_index, edge_feat = [], [], [], [], [], []
    for smiles, _ in rows:
        mol = Chem.MolFromSmiles(smiles)
        if mol is None:
            ok.append(0); nodes.append(0); edges.append(0)
            continue
        graph = smiles2graph(smiles)
        ok.append(1)
        nodes.append(graph["num_nodes"]); edges.append(graph["edge_index"].shape[1])
        node_feat.append(graph["node_feat"]); edge_index.append(graph["edge_index"]); edge_feat.append(graph["edge_feat"])
    group.create_dataset("smiles", data=[s for s, _ in rows], dtype=h5py.string_dtype())
    group.create_dataset("line", data=np.array([n for _, n in rows], dtype=np.int64))
    group.create_dataset("ok", data=np.array(ok, dtype=np.int8))
    group.create_dataset("num_nodes", data=np.array(nodes, dtype=np.int64))
    group.create_dataset("num_edges", data=np.array(edges, dtype=np.int64))
    opts = dict(compression="gzip", compression_opts=9, shuffle=True)
    group.create_dataset("node_feat", data=np.concatenate(node_feat).astype(np.int16), **opts)
    group.create_dataset("edge_index", data=np.concatenate(edge_index, axis=1).astype(np.int16), **opts)
    group.create_dataset("edge_feat", data=np.concatenate(edge_feat).astype(np.int16), **opts)


def main():
    path = sys.argv[1]
    rows = read_nci()
    with h5py.File(path + ".tmp", "w") as out:
        out.attrs["rdkit"] = rdkit.__version__
        out.attrs["ogb"] = ogb.__version__
        out.attrs["source"] = "RDKit RDConfig.RDDataDir/NCI/first_5K.smi (NCI Open Database, public domain)"
        write_set(out.create_group("nci_written"), rows)
        write_set(out.create_group("nci_isomeric"), isomeric(rows))
        chosen, v2000, v3000 = sdf_rows(rows)
        group = out.create_group("sdf")
        write_set(group, chosen)
        for name, text in (("sdf_v2000", v2000), ("sdf_v3000", v3000)):  # UTF-8 bytes, compressed
            group.create_dataset(name, data=np.frombuffer(text.encode(), dtype=np.uint8), compression="gzip", compression_opts=9)
    import os
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main()
