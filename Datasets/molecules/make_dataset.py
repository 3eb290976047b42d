#!/usr/bin/env python3
"""Makes SciZoo's bundled molecule dataset: small organic molecules from the NCI Open Database
with GFN2-xTB HOMO–LUMO gaps at GFN2-xTB-relaxed geometries.

Source: RDKit's bundled NCI sample (`RDConfig.RDDataDir/NCI/first_5K.smi`), structures from the
NCI/DTP Open Database, a US-government work in the public domain. Kept: one component, neutral
overall, elements H C N O F P S Cl Br I only, 3–24 heavy atoms, parsed by RDKit, no duplicates.

Method, per molecule: RDKit ETKDGv3 embedding (seed 42) with hydrogens, MMFF94 pre-relaxation,
then GFN2-xTB (tblite) relaxation with ASE's BFGS to fmax 0.05 eV/Å (at most 150 steps; molecules
that do not converge are left out and counted), then a GFN2-xTB single point: the gap is
E(LUMO) − E(HOMO) from the orbital energies and occupations, in eV. Splits: 80/10/10 by a seeded
shuffle (seed 2026).

Writes, beside this script: molecules.csv (idx, smiles, homolumogap, split, nci_line) and
molecules.sdf.gz (the relaxed conformers, hydrogens explicit, with the same fields as data items),
each through a temporary name. Run: python3 Datasets/molecules/make_dataset.py [--limit N]
"""
import argparse
import os
import random
import sys
import time

import numpy as np
from ase import Atoms
from ase.optimize import BFGS
from rdkit import Chem, RDConfig, RDLogger
from rdkit.Chem import AllChem
from tblite.ase import TBLite
from tblite.interface import Calculator

RDLogger.DisableLog("rdApp.*")
ALLOWED = {1, 6, 7, 8, 9, 15, 16, 17, 35, 53}
BOHR = 0.52917721067
HARTREE = 27.211386245988


def candidates():
    seen = set()
    with open(f"{RDConfig.RDDataDir}/NCI/first_5K.smi") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            mol = Chem.MolFromSmiles(line.split()[0])
            if mol is None or len(Chem.GetMolFrags(mol)) != 1 or Chem.GetFormalCharge(mol) != 0:
                continue
            if any(a.GetAtomicNum() not in ALLOWED for a in mol.GetAtoms()) or any(a.GetNumRadicalElectrons() for a in mol.GetAtoms()):
                continue
            if not 3 <= mol.GetNumHeavyAtoms() <= 24:
                continue
            smiles = Chem.MolToSmiles(mol)
            if smiles in seen:
                continue
            seen.add(smiles)
            yield smiles, number


def relax_and_gap(smiles):
    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    params = AllChem.ETKDGv3()
    params.randomSeed = 42
    if AllChem.EmbedMolecule(mol, params) != 0:
        return None, "embedding failed"
    AllChem.MMFFOptimizeMolecule(mol, maxIters=500)
    numbers = [a.GetAtomicNum() for a in mol.GetAtoms()]
    atoms = Atoms(numbers=numbers, positions=mol.GetConformer().GetPositions())
    atoms.calc = TBLite(method="GFN2-xTB", verbosity=0)
    optimizer = BFGS(atoms, logfile=None)
    if not optimizer.run(fmax=0.05, steps=150):
        return None, "xTB relaxation did not converge in 150 steps"
    calc = Calculator("GFN2-xTB", np.array(numbers), atoms.get_positions() / BOHR)
    calc.set("verbosity", 0)
    result = calc.singlepoint()
    energies, occupations = result.get("orbital-energies"), result.get("orbital-occupations")
    gap = (energies[occupations < 1e-3].min() - energies[occupations > 1e-3].max()) * HARTREE
    conformer = mol.GetConformer()
    for i, p in enumerate(atoms.get_positions()):
        conformer.SetAtomPosition(i, p.tolist())
    return (mol, float(gap)), None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    rows, skipped, start = [], {}, time.time()
    for smiles, number in candidates():
        if args.limit and len(rows) >= args.limit:
            break
        done, problem = relax_and_gap(smiles)
        if problem:
            skipped[problem] = skipped.get(problem, 0) + 1
            continue
        rows.append((smiles, number) + done)
        if len(rows) % 100 == 0:
            print(f"{len(rows)} molecules, {time.time() - start:.0f} s", file=sys.stderr, flush=True)
    order = list(range(len(rows)))
    random.Random(2026).shuffle(order)
    split = {}
    for rank, index in enumerate(order):
        split[index] = "train" if rank < 0.8 * len(rows) else ("valid" if rank < 0.9 * len(rows) else "test")
    csv_path, sdf_path = os.path.join(here, "molecules.csv"), os.path.join(here, "molecules.sdf.gz")
    with open(csv_path + ".tmp", "w") as csv:
        csv.write("idx,smiles,homolumogap,split,nci_line\n")
        for i, (smiles, number, _, gap) in enumerate(rows):
            csv.write(f"{i},{smiles},{gap:.6f},{split[i]},{number}\n")
    import gzip
    import io
    text = io.StringIO()
    writer = Chem.SDWriter(text)
    for i, (smiles, number, mol, gap) in enumerate(rows):
        mol.SetProp("_Name", f"nci_{number}")
        mol.SetProp("idx", str(i))
        mol.SetProp("homolumogap", f"{gap:.6f}")
        mol.SetProp("split", split[i])
        writer.write(mol)
    writer.close()
    with open(sdf_path + ".tmp", "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0, filename="") as out:
        out.write(text.getvalue().encode())
    os.replace(csv_path + ".tmp", csv_path)
    os.replace(sdf_path + ".tmp", sdf_path)
    print(f"{len(rows)} molecules in {time.time() - start:.0f} s; left out: {skipped}", file=sys.stderr)


if __name__ == "__main__":
    main()
