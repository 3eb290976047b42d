#!/usr/bin/env python3
"""Writes Datasets/mlff/ethanol_gfn2xtb.extxyz: ethanol frames with GFN2-xTB energies and forces.

Method: GFN2-xTB through tblite's ASE calculator (PyPI `tblite`), default accuracy and electronic
temperature. Sampling: ASE Langevin MD at 500 K (friction 0.01/fs, 0.5 fs steps) from ASE's
g2 ethanol geometry, 2 ps of equilibration, then one frame every 10 fs. Units as ASE writes them:
Å, eV, eV/Å. Needs `pip install ase tblite`; about two minutes on one core.

    python3 Datasets/mlff/make_ethanol_gfn2.py [--frames 2000] [--seed 2026]
"""
import argparse
import os
import time

import numpy as np
from ase import units
from ase.build import molecule
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import write
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary, ZeroRotation
from tblite.ase import TBLite


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--temperature", type=float, default=500.0)
    parser.add_argument("--output", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                         "ethanol_gfn2xtb.extxyz"))
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    atoms = molecule("CH3CH2OH")
    atoms.calc = TBLite(method="GFN2-xTB", verbosity=0)
    MaxwellBoltzmannDistribution(atoms, temperature_K=args.temperature, rng=rng)
    Stationary(atoms)
    ZeroRotation(atoms)
    dynamics = Langevin(atoms, 0.5 * units.fs, temperature_K=args.temperature,
                        friction=0.01 / units.fs, rng=rng)

    started = time.time()
    dynamics.run(4000)  # 2 ps of equilibration
    frames = []
    for _ in range(args.frames):
        dynamics.run(20)  # 10 fs between frames
        frame = atoms.copy()
        frame.set_velocities(np.zeros_like(frame.positions))
        frame.calc = SinglePointCalculator(frame, energy=atoms.get_potential_energy(),
                                           forces=atoms.get_forces())
        del frame.arrays["momenta"]
        frames.append(frame)
    temporary = args.output + ".partial"
    write(temporary, frames, format="extxyz")
    os.replace(temporary, args.output)
    print(f"{len(frames)} frames in {time.time() - started:.0f} s -> {args.output}")


if __name__ == "__main__":
    main()
