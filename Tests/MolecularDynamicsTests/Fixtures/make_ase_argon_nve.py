"""Writes ase_argon_nve.npz: ASE's VelocityVerlet on fcc argon (864 atoms, periodic) with ASE's
LennardJones calculator, the reference SciZoo's MD engine must follow.

Run from this folder: python3 make_ase_argon_nve.py  (needs ase and numpy; ASE 3.29.0 made the
committed file). Argon parameters: sigma 3.405 Å, epsilon 0.010323 eV (the classic Rahman values),
cutoff 3 sigma, energy shifted at the cutoff (ASE's default, smooth=False); fcc lattice constant
5.26 Å; Maxwell-Boltzmann start at 120 K from numpy's default_rng(7), total momentum removed;
timestep 5 fs, 100 steps, float64.
"""
import numpy as np
from ase.build import bulk
from ase.calculators.lj import LennardJones
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary
from ase.md.verlet import VelocityVerlet
from ase import units

atoms = bulk("Ar", "fcc", a=5.26, cubic=True).repeat((6, 6, 6))
assert len(atoms) == 864
sigma, epsilon = 3.405, 0.010323
atoms.calc = LennardJones(sigma=sigma, epsilon=epsilon, rc=3 * sigma)
MaxwellBoltzmannDistribution(atoms, temperature_K=120, rng=np.random.default_rng(7))
Stationary(atoms)
start_positions = atoms.get_positions().copy()
start_momenta = atoms.get_momenta().copy()
energy0 = atoms.get_potential_energy()
forces0 = atoms.get_forces().copy()
stress0 = atoms.get_stress(voigt=True).copy()
dynamics = VelocityVerlet(atoms, timestep=5 * units.fs)
potential, kinetic = [], []
for _ in range(100):
    dynamics.run(1)
    potential.append(atoms.get_potential_energy())
    kinetic.append(atoms.get_kinetic_energy())
np.savez_compressed(
    "ase_argon_nve.npz",
    cell=atoms.cell.array, masses=atoms.get_masses(), numbers=atoms.numbers,
    start_positions=start_positions, start_momenta=start_momenta,
    energy0=np.array(energy0), forces0=forces0, stress0=stress0,
    final_positions=atoms.get_positions(), final_momenta=atoms.get_momenta(),
    potential=np.array(potential), kinetic=np.array(kinetic),
    sigma=np.array(sigma), epsilon=np.array(epsilon), timestep_fs=np.array(5.0),
)
print(f"E0 {energy0:.6f} eV, after 100 steps Epot {potential[-1]:.6f} Ekin {kinetic[-1]:.6f}")
