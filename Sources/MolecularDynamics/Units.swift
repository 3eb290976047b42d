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

/// Standard atomic weights (amu) by atomic number, the values of ASE's `ase.data.atomic_masses`
/// (IUPAC 2016 abridged standard atomic weights), hydrogen to krypton.
public enum AtomicMasses {
    public static let byNumber: [Double] = [
        1.0, 1.008, 4.002602, 6.94, 9.0121831, 10.81, 12.011, 14.007, 15.999, 18.998403163, 20.1797,  // X (0), H … Ne
        22.98976928, 24.305, 26.9815385, 28.085, 30.973761998, 32.06, 35.45, 39.948,  // Na … Ar
        39.0983, 40.078, 44.955908, 47.867, 50.9415, 51.9961, 54.938044, 55.845, 58.933194, 58.6934, 63.546, 65.38,  // K … Zn
        69.723, 72.63, 74.921595, 78.971, 79.904, 83.798,  // Ga … Kr
    ]

    /// The mass of element `number` (nil beyond krypton: give masses explicitly).
    public static func mass(of number: Int) -> Double? { number >= 1 && number < byNumber.count ? byNumber[number] : nil }
}
