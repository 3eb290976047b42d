"""Writes ase_thermostats.npz: ASE's NVTBerendsen and NoseHooverChainNVT on a small fcc argon box
(108 atoms, periodic) with ASE's LennardJones calculator, for SciZoo's Berendsen and NoseHooverChain.

Run from this folder: python3 make_ase_thermostats.py  (needs ase ≥ 3.24 and numpy; ASE 3.29.0 made
the committed file). Argon: sigma 3.405 Å, epsilon 0.010323 eV, rc 3 sigma (shifted, ASE's default),
fcc a = 5.26 Å, 3×3×3; Maxwell-Boltzmann start at 60 K from numpy's default_rng(11), total momentum
removed; target 120 K; timestep 5 fs, 200 steps, float64. Berendsen: taut 100 fs. Nosé-Hoover
chain: tdamp 100 fs, tchain 3, tloop 1.
"""
import numpy as np
from ase import units
from ase.build import bulk
from ase.calculators.lj import LennardJones
from ase.md.nose_hoover_chain import NoseHooverChainNVT
from ase.md.nvtberendsen import NVTBerendsen
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary

sigma, epsilon = 3.405, 0.010323
start = bulk("Ar", "fcc", a=5.26, cubic=True).repeat((3, 3, 3))
MaxwellBoltzmannDistribution(start, temperature_K=60, rng=np.random.default_rng(11))
Stationary(start)
results = {}
for name in ["berendsen", "nose_hoover"]:
    atoms = start.copy()
    atoms.calc = LennardJones(sigma=sigma, epsilon=epsilon, rc=3 * sigma)
    if name == "berendsen":
        dynamics = NVTBerendsen(atoms, 5 * units.fs, temperature_K=120, taut=100 * units.fs)
    else:
        dynamics = NoseHooverChainNVT(atoms, 5 * units.fs, temperature_K=120, tdamp=100 * units.fs, tchain=3, tloop=1)
    temperatures = []
    for _ in range(200):
        dynamics.run(1)
        temperatures.append(atoms.get_temperature())
    results[f"{name}_positions"] = atoms.get_positions()
    results[f"{name}_momenta"] = atoms.get_momenta()
    results[f"{name}_temperature"] = np.array(temperatures)
    if name == "nose_hoover":
        results["nose_hoover_conserved"] = np.array(dynamics.get_conserved_energy())
np.savez_compressed("ase_thermostats.npz", cell=start.cell.array, numbers=start.numbers,
                    start_positions=start.get_positions(), start_momenta=start.get_momenta(), **results)
print({k: float(v[-1]) for k, v in results.items() if k.endswith("temperature")})
