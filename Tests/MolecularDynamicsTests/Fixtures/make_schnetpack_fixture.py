#!/usr/bin/env python3
"""Writes schnetpack reference models and their outputs for the weight-import parity test.

Runs schnetpack 2.1.1 (PyPI) with torch on the CPU: a SchNet and a PaiNN NeuralNetworkPotential
(PairwiseDistances → representation → Atomwise energy → Forces, and Stress for the periodic cell),
seeded random weights, saved with safetensors.torch.save_file under schnetpack's own key names;
their float32 energies, forces and stress on an ethanol frame of Datasets/mlff and on a periodic
rock-salt cell smaller than twice the cutoff are written to schnetpack_reference.json.

    pip install schnetpack safetensors
    python3 Tests/MolecularDynamicsTests/Fixtures/make_schnetpack_fixture.py
"""
import json
import os

import numpy as np
import schnetpack as spk
import torch
from ase import Atoms
from ase.io import read
from safetensors.torch import save_file

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.abspath(os.path.join(here, "..", "..", ".."))
cutoff = 4.0


def structures():
    ethanol = read(os.path.join(root, "Datasets", "mlff", "ethanol_gfn2xtb.extxyz"), index=0)
    ethanol = Atoms(ethanol.numbers, ethanol.positions)
    a = 5.0  # rock salt, conventional cell (8 atoms), jiggled so forces are not zero
    base = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    positions = np.concatenate([base, base + [0.5, 0, 0]]) * a
    positions += np.random.default_rng(3).normal(scale=0.1, size=positions.shape)
    crystal = Atoms([11] * 4 + [17] * 4, positions, cell=np.diag([a, a, a]) @ np.array([[1, 0, 0], [0.1, 1, 0], [0, 0, 1]]), pbc=True)
    return {"ethanol": ethanol, "rocksalt": crystal}


def model(kind):
    radial = spk.nn.GaussianRBF(n_rbf=10, cutoff=cutoff)
    cut = spk.nn.CosineCutoff(cutoff)
    if kind == "schnet":
        representation = spk.representation.SchNet(n_atom_basis=32, n_interactions=2, radial_basis=radial, cutoff_fn=cut)
    else:
        representation = spk.representation.PaiNN(n_atom_basis=32, n_interactions=2, radial_basis=radial, cutoff_fn=cut)
    return spk.model.NeuralNetworkPotential(
        representation=representation,
        input_modules=[spk.atomistic.Strain(), spk.atomistic.PairwiseDistances()],
        output_modules=[spk.atomistic.Atomwise(n_in=32, output_key="energy"),
                        spk.atomistic.Forces(energy_key="energy", force_key="forces", calc_stress=True)],
    )


def main():
    reference = {"cutoff": cutoff, "n_atom_basis": 32, "n_interactions": 2, "n_rbf": 10, "structures": {}, "outputs": {}}
    converter = spk.interfaces.AtomsConverter(neighbor_list=spk.transform.ASENeighborList(cutoff=cutoff), dtype=torch.float32)
    for name, atoms in structures().items():
        reference["structures"][name] = {"numbers": atoms.numbers.tolist(), "positions": atoms.positions.tolist(),
                                         "cell": atoms.cell.array.tolist(), "pbc": atoms.pbc.tolist()}
    for seed, kind in enumerate(["schnet", "painn"]):
        torch.manual_seed(seed + 1)
        net = model(kind)
        # Non-zero biases everywhere, so a bias that is not imported shows.
        with torch.no_grad():
            for key, value in net.state_dict().items():
                if key.endswith("bias"):
                    value.normal_(0, 0.1)
        save_file({k: v.contiguous() for k, v in net.state_dict().items()}, os.path.join(here, f"schnetpack_{kind}.safetensors"))
        for name, atoms in structures().items():
            results = net(converter(atoms))
            out = {"energy": float(results["energy"].detach()[0]), "forces": results["forces"].detach().numpy().tolist()}
            if atoms.pbc.all():
                # schnetpack's stress is (1/V) dE/dε; ASE's sign, eV/Å³, as a 3×3 matrix.
                out["stress"] = results["stress"].detach().numpy()[0].tolist()
            reference["outputs"][f"{kind}/{name}"] = out
    with open(os.path.join(here, "schnetpack_reference.json"), "w") as handle:
        json.dump(reference, handle, indent=1)
    print("schnetpack", spk.__version__ if hasattr(spk, "__version__") else "2.1.1", "torch", torch.__version__)


if __name__ == "__main__":
    main()
