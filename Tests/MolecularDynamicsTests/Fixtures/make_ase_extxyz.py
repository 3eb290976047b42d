"""Writes ase_frames.extxyz with ASE's own writer, and ase_frames.npz with the values it holds, for
the extended XYZ reader's tests: a molecule with energy and forces, a periodic triclinic crystal
with energy, forces, stress and momenta, and a frame in MACE's convention (REF_energy,
REF_forces, REF_stress as plain info/arrays keys).

Run from this folder: python3 make_ase_extxyz.py  (needs ase and numpy; ASE 3.29.0 made the
committed files). Seeded, so a rerun gives the same files.
"""
import numpy as np
from ase.build import bulk, molecule
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import write

rng = np.random.default_rng(11)
ethanol = molecule("CH3CH2OH")
ethanol.calc = SinglePointCalculator(ethanol, energy=-97.123456789, forces=rng.normal(size=(9, 3)))

crystal = bulk("Cu", "fcc", a=3.6).repeat((2, 1, 1))
crystal.set_cell(crystal.cell.array + rng.normal(scale=0.05, size=(3, 3)), scale_atoms=True)
crystal.set_momenta(rng.normal(size=(2, 3)))
stress = rng.normal(scale=0.01, size=6)
crystal.calc = SinglePointCalculator(crystal, energy=-7.5, forces=rng.normal(size=(2, 3)), stress=stress)

mace = molecule("H2O")
mace.info["REF_energy"] = -14.25
mace.arrays["REF_forces"] = rng.normal(size=(3, 3))
mace.info["REF_stress"] = np.zeros(9)
mace.info["config_type"] = "water"

frames = [ethanol, crystal, mace]
write("ase_frames.extxyz", frames, format="extxyz")
np.savez(
    "ase_frames.npz",
    numbers0=ethanol.numbers, positions0=ethanol.positions, energy0=np.array(-97.123456789), forces0=ethanol.get_forces(),
    numbers1=crystal.numbers, positions1=crystal.positions, cell1=crystal.cell.array, momenta1=crystal.get_momenta(),
    energy1=np.array(-7.5), forces1=crystal.get_forces(), stress1=stress,
    numbers2=mace.numbers, positions2=mace.positions, energy2=np.array(-14.25), forces2=mace.arrays["REF_forces"],
)
print(open("ase_frames.extxyz").read())
