// The residue alphabets of AlphaFold's data pipeline (openfold/np/residue_constants.py):
//   21 = 20 amino acids + X            (aatype, target_feat)
//   22 = + gap                         (HHblits ids, the MSA profile)
//   23 = + the BERT mask token         (MSA one-hot, cluster profile, masked-MSA head)

public enum ResidueAlphabet {
    /// AlphaFold's restype order; X (unknown) is 20.
    public static let restypes: [Character] = Array("ARNDCQEGHILKMFPSTWYV")
    public static let unknown = 20
    public static let gap = 21
    public static let mask = 22

    /// The restype index of a one-letter code (unknown letters → X).
    public static func restype(_ letter: Character) -> Int {
        restypeIndex[letter] ?? unknown
    }

    private static let restypeIndex: [Character: Int] = Dictionary(uniqueKeysWithValues: restypes.enumerated().map { ($1, $0) })

    /// HHblits ids (`A0 C1 D2 E3 F4 G5 H6 I7 K8 L9 M10 N11 P12 Q13 R14 S15 T16 V17 W18 Y19 X20 -21`),
    /// with B→D, Z→E, U→C, J/O→X as AlphaFold maps them; nil for any other character.
    public static func hhblits(_ letter: Character) -> Int? {
        hhblitsIndex[letter]
    }

    private static let hhblitsIndex: [Character: Int] = {
        var table: [Character: Int] = [:]
        for (index, letter) in "ACDEFGHIKLMNPQRSTVWYX-".enumerated() { table[letter] = index }
        table["B"] = 2
        table["Z"] = 3
        table["U"] = 1
        table["J"] = 20
        table["O"] = 20
        return table
    }()

    /// HHblits id → restype id (gap → 21), the first transform of the pipeline.
    public static let hhblitsToRestype: [Int] = {
        let hhblitsOrder = Array("ACDEFGHIKLMNPQRSTVWYX-")
        return hhblitsOrder.map { $0 == "-" ? gap : restype($0) }
    }()
}
