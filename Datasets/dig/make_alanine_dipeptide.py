#!/usr/bin/env python3
"""Writes Datasets/dig/alanine_dipeptide_<seed>.extxyz: conformations of alanine dipeptide
(Ace-Ala-NMe, CC(=O)N[C@@H](C)C(=O)NC, 22 atoms) sampled by GFN2-xTB molecular dynamics.

Method: GFN2-xTB through tblite's ASE calculator (PyPI `tblite`), default accuracy and electronic
temperature, in vacuum. Start: RDKit's ETKDG embedding (random seed = the trajectory seed), then
ASE Langevin dynamics at 500 K (friction 0.01/fs) with 2 fs steps and hydrogen mass
repartitioning (3 u moved from each heavy atom to each of its hydrogens: it changes the dynamics,
not the Boltzmann distribution over configurations the frames sample); the centre of mass is left
free (ASE's fixcm=True does not sample NVT exactly for small molecules; frames are centred
downstream). 2 ps of equilibration, then a frame every 40 fs. Atoms in RDKit's order: the SMILES's
10 heavy atoms first, then the hydrogens. Units as ASE writes them: Å, eV. Needs
`pip install ase tblite rdkit`; about 5 minutes per trajectory on one core.

    python3 Datasets/dig/make_alanine_dipeptide.py --seed 1 [--frames 1000]
"""
import argparse
import os
import time

import numpy as np
from ase import Atoms, units
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import write
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary, ZeroRotation
from rdkit import Chem
from rdkit.Chem import AllChem
from tblite.ase import TBLite

SMILES = "CC(=O)N[C@@H](C)C(=O)NC"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--temperature", type=float, default=500.0)
    args = parser.parse_args()
    output = os.path.join(os.path.dirname(os.path.abspath(__file__)), f"alanine_dipeptide_{args.seed}.extxyz")

    molecule = Chem.AddHs(Chem.MolFromSmiles(SMILES))
    AllChem.EmbedMolecule(molecule, randomSeed=args.seed)
    atoms = Atoms([a.GetSymbol() for a in molecule.GetAtoms()], positions=molecule.GetConformer().GetPositions())
    # Hydrogen mass repartitioning: 3 u moved from each heavy atom to each of its hydrogens.
    masses = atoms.get_masses()
    for atom in molecule.GetAtoms():
        if atom.GetSymbol() == "H":
            heavy = atom.GetNeighbors()[0].GetIdx()
            masses[atom.GetIdx()] += 3.0
            masses[heavy] -= 3.0
    atoms.set_masses(masses)
    atoms.calc = TBLite(method="GFN2-xTB", verbosity=0)
    rng = np.random.default_rng(args.seed)
    MaxwellBoltzmannDistribution(atoms, temperature_K=args.temperature, rng=rng)
    Stationary(atoms)
    ZeroRotation(atoms)
    dynamics = Langevin(atoms, 2.0 * units.fs, temperature_K=args.temperature, friction=0.01 / units.fs, fixcm=False, rng=rng)

    started = time.time()
    dynamics.run(1000)  # 2 ps of equilibration
    frames = []
    for _ in range(args.frames):
        dynamics.run(20)  # 40 fs between frames
        frame = Atoms(atoms.get_chemical_symbols(), positions=atoms.positions.copy())
        frame.calc = SinglePointCalculator(frame, energy=atoms.get_potential_energy())
        frame.info["smiles"] = SMILES
        frames.append(frame)
    temporary = output + ".partial"
    write(temporary, frames, format="extxyz")
    os.replace(temporary, output)
    print(f"{len(frames)} frames in {time.time() - started:.0f} s -> {output}")


if __name__ == "__main__":
    main()
