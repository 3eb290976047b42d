// The periodic table as RDKit's valence model sees it: outer-shell electrons and the allowed valences
// of each element (−1: any valence, as RDKit gives metals). Numbers read from RDKit 2026.09.1's
// `Chem.GetPeriodicTable()` (GetNOuterElecs, GetValenceList); OGB's featurisation rests on them.

/// One element: atomic number, symbol, outer-shell electrons and allowed valences, lowest first.
public struct Element: Sendable {
    public let number: Int
    public let symbol: String
    public let outerElectrons: Int
    /// Allowed valences, lowest first; `[-1]` (or a trailing −1) means any valence.
    public let valences: [Int]

    init(_ number: Int, _ symbol: String, outer: Int, valences: [Int]) {
        self.number = number
        self.symbol = symbol
        self.outerElectrons = outer
        self.valences = valences
    }

    /// The first allowed valence, −1 for elements that take any (RDKit's "default valence").
    public var defaultValence: Int { valences[0] }

    /// The allowed valences without the "any" marker.
    public var fixedValences: [Int] { valences.filter { $0 >= 0 } }

    /// RDKit's stand-in for electronegativity: more outer electrons, or as many and lighter.
    public func isMoreElectronegative(than other: Element) -> Bool {
        outerElectrons > other.outerElectrons || (outerElectrons == other.outerElectrons && number < other.number)
    }
}

public enum PeriodicTable {
    /// Indexed by atomic number; index 0 is the dummy atom `*`.
    public static let elements: [Element] = [
        Element(0, "*", outer: 0, valences: [-1]),
        Element(1, "H", outer: 1, valences: [1]),
        Element(2, "He", outer: 2, valences: [0]),
        Element(3, "Li", outer: 1, valences: [1, -1]),
        Element(4, "Be", outer: 2, valences: [2]),
        Element(5, "B", outer: 3, valences: [3]),
        Element(6, "C", outer: 4, valences: [4]),
        Element(7, "N", outer: 5, valences: [3]),
        Element(8, "O", outer: 6, valences: [2]),
        Element(9, "F", outer: 7, valences: [1]),
        Element(10, "Ne", outer: 8, valences: [0]),
        Element(11, "Na", outer: 1, valences: [1, -1]),
        Element(12, "Mg", outer: 2, valences: [2, -1]),
        Element(13, "Al", outer: 3, valences: [3]),
        Element(14, "Si", outer: 4, valences: [4]),
        Element(15, "P", outer: 5, valences: [3, 5]),
        Element(16, "S", outer: 6, valences: [2, 4, 6]),
        Element(17, "Cl", outer: 7, valences: [1]),
        Element(18, "Ar", outer: 8, valences: [0]),
        Element(19, "K", outer: 1, valences: [1, -1]),
        Element(20, "Ca", outer: 2, valences: [2, -1]),
        Element(21, "Sc", outer: 3, valences: [-1]),
        Element(22, "Ti", outer: 4, valences: [-1]),
        Element(23, "V", outer: 5, valences: [-1]),
        Element(24, "Cr", outer: 6, valences: [-1]),
        Element(25, "Mn", outer: 7, valences: [-1]),
        Element(26, "Fe", outer: 8, valences: [-1]),
        Element(27, "Co", outer: 9, valences: [-1]),
        Element(28, "Ni", outer: 10, valences: [-1]),
        Element(29, "Cu", outer: 11, valences: [-1]),
        Element(30, "Zn", outer: 2, valences: [-1]),
        Element(31, "Ga", outer: 3, valences: [3]),
        Element(32, "Ge", outer: 4, valences: [4]),
        Element(33, "As", outer: 5, valences: [3, 5]),
        Element(34, "Se", outer: 6, valences: [2, 4, 6]),
        Element(35, "Br", outer: 7, valences: [1]),
        Element(36, "Kr", outer: 8, valences: [0]),
        Element(37, "Rb", outer: 1, valences: [1, -1]),
        Element(38, "Sr", outer: 2, valences: [2, -1]),
        Element(39, "Y", outer: 3, valences: [-1]),
        Element(40, "Zr", outer: 4, valences: [-1]),
        Element(41, "Nb", outer: 5, valences: [-1]),
        Element(42, "Mo", outer: 6, valences: [-1]),
        Element(43, "Tc", outer: 7, valences: [-1]),
        Element(44, "Ru", outer: 8, valences: [-1]),
        Element(45, "Rh", outer: 9, valences: [-1]),
        Element(46, "Pd", outer: 10, valences: [-1]),
        Element(47, "Ag", outer: 11, valences: [-1]),
        Element(48, "Cd", outer: 2, valences: [-1]),
        Element(49, "In", outer: 3, valences: [3]),
        Element(50, "Sn", outer: 4, valences: [2, 4]),
        Element(51, "Sb", outer: 5, valences: [3, 5]),
        Element(52, "Te", outer: 6, valences: [2, 4, 6]),
        Element(53, "I", outer: 7, valences: [1, 3, 5]),
        Element(54, "Xe", outer: 8, valences: [0, 2, 4, 6]),
        Element(55, "Cs", outer: 1, valences: [1]),
        Element(56, "Ba", outer: 2, valences: [2, -1]),
        Element(57, "La", outer: 3, valences: [-1]),
        Element(58, "Ce", outer: 4, valences: [-1]),
        Element(59, "Pr", outer: 3, valences: [-1]),
        Element(60, "Nd", outer: 4, valences: [-1]),
        Element(61, "Pm", outer: 5, valences: [-1]),
        Element(62, "Sm", outer: 6, valences: [-1]),
        Element(63, "Eu", outer: 7, valences: [-1]),
        Element(64, "Gd", outer: 8, valences: [-1]),
        Element(65, "Tb", outer: 9, valences: [-1]),
        Element(66, "Dy", outer: 10, valences: [-1]),
        Element(67, "Ho", outer: 11, valences: [-1]),
        Element(68, "Er", outer: 12, valences: [-1]),
        Element(69, "Tm", outer: 13, valences: [-1]),
        Element(70, "Yb", outer: 14, valences: [-1]),
        Element(71, "Lu", outer: 15, valences: [-1]),
        Element(72, "Hf", outer: 4, valences: [-1]),
        Element(73, "Ta", outer: 5, valences: [-1]),
        Element(74, "W", outer: 6, valences: [-1]),
        Element(75, "Re", outer: 7, valences: [-1]),
        Element(76, "Os", outer: 8, valences: [-1]),
        Element(77, "Ir", outer: 9, valences: [-1]),
        Element(78, "Pt", outer: 10, valences: [-1]),
        Element(79, "Au", outer: 11, valences: [-1]),
        Element(80, "Hg", outer: 2, valences: [-1]),
        Element(81, "Tl", outer: 3, valences: [-1]),
        Element(82, "Pb", outer: 4, valences: [2, 4]),
        Element(83, "Bi", outer: 5, valences: [3, 5]),
        Element(84, "Po", outer: 6, valences: [2, 4, 6]),
        Element(85, "At", outer: 7, valences: [1, 3, 5]),
        Element(86, "Rn", outer: 8, valences: [0]),
        Element(87, "Fr", outer: 1, valences: [1]),
        Element(88, "Ra", outer: 2, valences: [2, -1]),
        Element(89, "Ac", outer: 3, valences: [-1]),
        Element(90, "Th", outer: 4, valences: [-1]),
        Element(91, "Pa", outer: 3, valences: [-1]),
        Element(92, "U", outer: 4, valences: [-1]),
        Element(93, "Np", outer: 5, valences: [-1]),
        Element(94, "Pu", outer: 6, valences: [-1]),
        Element(95, "Am", outer: 7, valences: [-1]),
        Element(96, "Cm", outer: 8, valences: [-1]),
        Element(97, "Bk", outer: 9, valences: [-1]),
        Element(98, "Cf", outer: 10, valences: [-1]),
        Element(99, "Es", outer: 11, valences: [-1]),
        Element(100, "Fm", outer: 12, valences: [-1]),
        Element(101, "Md", outer: 13, valences: [-1]),
        Element(102, "No", outer: 14, valences: [-1]),
        Element(103, "Lr", outer: 15, valences: [-1]),
        Element(104, "Rf", outer: 2, valences: [-1]),
        Element(105, "Db", outer: 2, valences: [-1]),
        Element(106, "Sg", outer: 2, valences: [-1]),
        Element(107, "Bh", outer: 2, valences: [-1]),
        Element(108, "Hs", outer: 2, valences: [-1]),
        Element(109, "Mt", outer: 2, valences: [-1]),
        Element(110, "Ds", outer: 2, valences: [-1]),
        Element(111, "Rg", outer: 2, valences: [-1]),
        Element(112, "Cn", outer: 2, valences: [-1]),
        Element(113, "Nh", outer: 2, valences: [-1]),
        Element(114, "Fl", outer: 2, valences: [-1]),
        Element(115, "Mc", outer: 2, valences: [-1]),
        Element(116, "Lv", outer: 2, valences: [-1]),
        Element(117, "Ts", outer: 2, valences: [-1]),
        Element(118, "Og", outer: 2, valences: [-1]),
    ]

    public static let bySymbol: [String: Element] = Dictionary(uniqueKeysWithValues: elements.dropFirst().map { ($0.symbol, $0) })

    public static subscript(number: Int) -> Element { elements[number] }
}
