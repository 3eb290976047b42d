// Units as ASE defines them (ase/units.py, CODATA 2014, ASE's default): lengths in Å, energies in
// eV, masses in amu, temperatures in K; time in ASE's internal unit √(amu·Å²/eV), so a timestep
// in femtoseconds is `fs` of them. Momenta are mass × velocity in these units, as ASE's `momenta`.
public enum Units {
    /// CODATA 2014: elementary charge (C), atomic mass unit (kg), Boltzmann constant (J/K).
    public static let elementaryCharge = 1.6021766208e-19
    public static let atomicMassUnit = 1.66053904e-27
    public static let boltzmannSI = 1.38064852e-23

    /// One second in ASE's time unit: 1e10 · √(e / amu) (ase.units `second`).
    public static let second = 1e10 * (elementaryCharge / atomicMassUnit).squareRoot()
    /// One femtosecond in ASE's time unit (0.098226947884640…).
    public static let fs = 1e-15 * second
    /// Boltzmann's constant in eV/K (8.617330337217213e-05).
    public static let kB = boltzmannSI / elementaryCharge
}

/// Chemical symbols and standard atomic weights (amu) by atomic number, hydrogen to radon: the
/// values of ASE's `ase.data.chemical_symbols` and `ase.data.atomic_masses` (IUPAC 2016 abridged
/// standard atomic weights; for elements without one, the mass of the longest-lived isotope).
public enum Elements {
    public static let symbols: [String] = [
        "X", "H", "He", "Li", "Be", "B", "C", "N", "O", "F", "Ne", "Na", "Mg", "Al", "Si", "P", "S", "Cl",
        "Ar", "K", "Ca", "Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga", "Ge", "As", "Se", "Br",
        "Kr", "Rb", "Sr", "Y", "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd", "In", "Sn", "Sb", "Te", "I",
        "Xe", "Cs", "Ba", "La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu",
        "Hf", "Ta", "W", "Re", "Os", "Ir", "Pt", "Au", "Hg", "Tl", "Pb", "Bi", "Po", "At", "Rn",
    ]
    public static let masses: [Double] = [
        1.0, 1.008, 4.002602, 6.94, 9.0121831, 10.81, 12.011, 14.007, 15.999, 18.998403163,
        20.1797, 22.98976928, 24.305, 26.9815385, 28.085, 30.973761998, 32.06, 35.45, 39.948, 39.0983,
        40.078, 44.955908, 47.867, 50.9415, 51.9961, 54.938044, 55.845, 58.933194, 58.6934, 63.546,
        65.38, 69.723, 72.63, 74.921595, 78.971, 79.904, 83.798, 85.4678, 87.62, 88.90584,
        91.224, 92.90637, 95.95, 97.90721, 101.07, 102.9055, 106.42, 107.8682, 112.414, 114.818,
        118.71, 121.76, 127.6, 126.90447, 131.293, 132.90545196, 137.327, 138.90547, 140.116, 140.90766,
        144.242, 144.91276, 150.36, 151.964, 157.25, 158.92535, 162.5, 164.93033, 167.259, 168.93422,
        173.054, 174.9668, 178.49, 180.94788, 183.84, 186.207, 190.23, 192.217, 195.084, 196.966569,
        200.592, 204.38, 207.2, 208.9804, 208.98243, 209.98715, 222.01758,
    ]
    static let numbers: [String: Int] = Dictionary(uniqueKeysWithValues: symbols.enumerated().map { ($1, $0) })

    /// The atomic number of a chemical symbol ("Ar" → 18), nil for unknown symbols.
    public static func number(of symbol: String) -> Int? { numbers[symbol] }

    /// The mass of element `number` (nil outside hydrogen … radon).
    public static func mass(of number: Int) -> Double? { number >= 1 && number < masses.count ? masses[number] : nil }
}
