"""Writes ase_neighbour_lists.json: ASE's neighbor_list('ijSd') on the systems the Graphs tests
compare SciZoo's neighbour list with (a random molecule, bulk copper, a rattled triclinic
crystal, cells smaller than twice the cutoff, a slab, atoms outside their cell).

Run from this folder: python3 make_ase_neighbour_lists.py  (needs ase and numpy; ASE 3.29.0 made
the committed file). Seeds are fixed, so a rerun gives the same file.
"""
import json

import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.neighborlist import neighbor_list


def record(name, atoms, cutoff):
    i, j, shifts, d = neighbor_list("ijSd", atoms, cutoff)
    return {
        "name": name,
        "cutoff": cutoff,
        "positions": atoms.positions.tolist(),
        "cell": atoms.cell.array.tolist(),
        "pbc": [bool(p) for p in atoms.pbc],
        "i": i.tolist(),
        "j": j.tolist(),
        "S": shifts.tolist(),
        "d": d.tolist(),
    }


rng = np.random.default_rng(20261206)
systems = []

# A molecule-like cluster in vacuum (no cell), few atoms: the all-pairs path.
molecule = Atoms("C6H6O2N4", positions=rng.uniform(0, 4.5, size=(18, 3)))
systems.append(record("random molecule", molecule, 2.5))

# A larger cluster in vacuum: the cell-list path.
cluster = Atoms("C" * 150, positions=rng.uniform(0, 12, size=(150, 3)))
systems.append(record("random cluster (150 atoms)", cluster, 3.0))

# Bulk fcc copper, 3 × 3 × 3 conventional cells, rattled, periodic.
copper = bulk("Cu", "fcc", a=3.61, cubic=True).repeat((3, 3, 3))
copper.rattle(stdev=0.05, seed=3)
systems.append(record("bulk copper 108 atoms", copper, 4.0))

# A rattled triclinic crystal with some atoms outside the cell (no wrapping beforehand).
cell = np.array([[9.0, 0.0, 0.0], [2.5, 8.0, 0.0], [-1.8, 1.9, 8.5]])
frac = rng.uniform(-0.2, 1.2, size=(90, 3))
triclinic = Atoms("Si" * 90, positions=frac @ cell, cell=cell, pbc=True)
systems.append(record("triclinic crystal, atoms outside the cell", triclinic, 3.2))

# A skewed cell smaller than twice the cutoff: several images of each neighbour, and each atom
# neighbours its own images.
small = np.array([[3.0, 0.0, 0.0], [1.4, 2.7, 0.0], [0.6, -0.9, 3.3]])
skewed = Atoms("ArNe", positions=[[0.2, 0.3, 0.1], [1.9, 1.1, 2.0]], cell=small, pbc=True)
systems.append(record("skewed small cell (cutoff > cell)", skewed, 5.0))

# One atom in a tiny periodic box: only self-images.
single = Atoms("Ar", positions=[[0.5, 0.5, 0.5]], cell=[2.1, 2.4, 2.7], pbc=True)
systems.append(record("one atom, tiny cubic box", single, 4.0))

# A slab: periodic in-plane, open along c (which has a vector).
slab_cell = np.array([[7.5, 0.0, 0.0], [-3.75, 6.5, 0.0], [0.0, 0.0, 20.0]])
slab_frac = np.column_stack([rng.uniform(0, 1, 40), rng.uniform(0, 1, 40), rng.uniform(0.3, 0.55, 40)])
slab = Atoms("Pt" * 40, positions=slab_frac @ slab_cell, cell=slab_cell, pbc=[True, True, False])
systems.append(record("slab, pbc [T, T, F]", slab, 3.5))

# A wire: periodic along a only, the other vectors zero.
wire = Atoms("Au" * 12, positions=np.column_stack([rng.uniform(0, 5, 12), rng.uniform(0, 2.5, 12), rng.uniform(0, 2.5, 12)]),
             cell=[[5.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]], pbc=[True, False, False])
systems.append(record("wire, pbc [T, F, F], zero b and c", wire, 3.0))

with open("ase_neighbour_lists.json", "w") as handle:
    json.dump({"ase_version": __import__("ase").__version__, "systems": systems}, handle)
print({s["name"]: len(s["i"]) for s in systems})
