// SMILES (OpenSMILES): the organic subset and bracket atoms (isotope, element, chirality, hydrogen
// count, charge, atom class), bonds `- = # $ : / \` and RDKit's dative `->` `<-`, branches, ring
// closures (`1`, `%12`, `%(123)`) and `.` between components. Atoms and bonds are numbered as RDKit numbers them, because OGB's
// arrays follow that order: atoms as written; chain and branch bonds as written; ring-closure bonds
// after all of those, by ring number (in closing order for a reused number), from the closing atom
// to the opening one (from the opening atom when the bond symbol stands at the opening digit).
import TensorIO

/// A malformed molecule input: the file, the line (or record) and the character it concerns.
public struct MoleculeInputError: Error, CustomStringConvertible, Sendable {
    public var file: String
    public var line: Int
    /// 1-based character within the line; 0 when the problem is the whole record.
    public var column: Int
    public var message: String

    public init(file: String, line: Int, column: Int, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String {
        (column > 0 ? "\(file):\(line):\(column): \(message)" : "\(file):\(line): \(message)").escapingControlCharacters
    }
}

public enum SMILES {
    static let organicSubset: Set<String> = ["B", "C", "N", "O", "P", "S", "F", "Cl", "Br", "I"]
    static let aromaticOrganic: Set<String> = ["b", "c", "n", "o", "p", "s"]
    static let aromaticBracket: Set<String> = ["b", "c", "n", "o", "p", "s", "se", "as", "te", "si"]

    /// Parses one SMILES string; errors carry `file`, `line` and the 1-based character.
    public static func parse(_ text: String, file: String = "<smiles>", line: Int = 1) throws(MoleculeInputError) -> Molecule {
        var parser = Parser(characters: Array(text.unicodeScalars), file: file, line: line)
        return try parser.parse()
    }

    struct Parser {
        let characters: [Unicode.Scalar]
        let file: String
        let line: Int
        var position = 0
        var molecule = Molecule()

        struct OpenRing { var atom: Int; var order: BondOrder?; var direction: BondDirection; var column: Int; var slot: Int }
        var openRings: [Int: OpenRing] = [:]
        var closures: [(bond: Bond, number: Int)] = []

        init(characters: [Unicode.Scalar], file: String, line: Int) {
            self.characters = characters
            self.file = file
            self.line = line
        }

        func error(_ message: String, at column: Int? = nil) -> MoleculeInputError {
            MoleculeInputError(file: file, line: line, column: (column ?? position) + 1, message: message)
        }

        var current: Unicode.Scalar? { position < characters.count ? characters[position] : nil }

        mutating func parse() throws(MoleculeInputError) -> Molecule {
            if characters.isEmpty { throw MoleculeInputError(file: file, line: line, column: 0, message: "empty SMILES") }
            var previous: Int? = nil
            var branchStack: [Int] = []
            var pendingOrder: BondOrder? = nil
            var pendingDirection: BondDirection = .none
            var pendingColumn = 0
            var pendingDativeReversed = false
            var afterDot = false
            while let c = current {
                switch c {
                case "(":
                    guard let atom = previous, pendingOrder == nil, pendingDirection == .none else { throw error("a branch must follow an atom") }
                    branchStack.append(atom)
                    position += 1
                case ")":
                    guard let atom = branchStack.popLast() else { throw error("unmatched ')'") }
                    if pendingOrder != nil || pendingDirection != .none { throw error("a bond symbol before ')' has no atom to bond to", at: pendingColumn) }
                    previous = atom
                    position += 1
                case "-", "=", "#", "$", ":", "/", "\\", "<":
                    if pendingOrder != nil || pendingDirection != .none { throw error("two bond symbols in a row") }
                    guard previous != nil else { throw error("a bond symbol must follow an atom") }
                    pendingColumn = position
                    let next = position + 1 < characters.count ? characters[position + 1] : nil
                    switch c {
                    case "-" where next == ">", "<" where next == "-":
                        // RDKit's dative bonds: `->` from the atom before, `<-` from the atom after.
                        pendingOrder = .dative
                        pendingDativeReversed = c == "<"
                        position += 1
                    case "<": throw error("'<' must start a dative bond '<-'")
                    case "-": pendingOrder = .single
                    case "=": pendingOrder = .double
                    case "#": pendingOrder = .triple
                    case "$": pendingOrder = .quadruple
                    case ":": pendingOrder = .aromatic
                    case "/": pendingDirection = .up
                    default: pendingDirection = .down
                    }
                    position += 1
                case ".":
                    if pendingOrder != nil || pendingDirection != .none { throw error("a bond symbol before '.'", at: pendingColumn) }
                    guard previous != nil else { throw error("'.' must follow an atom") }
                    if !branchStack.isEmpty { throw error("'.' inside a branch is not supported") }
                    previous = nil
                    afterDot = true
                    position += 1
                case "0"..."9", "%":
                    guard let atom = previous else { throw error("a ring-closure digit must follow an atom") }
                    let column = position
                    let number = try ringNumber()
                    if let open = openRings.removeValue(forKey: number) {
                        if open.atom == atom { throw error("ring bond \(number) joins an atom to itself", at: column) }
                        if molecule.bond(between: atom, open.atom) != nil || closures.contains(where: { ($0.bond.begin == atom && $0.bond.end == open.atom) || ($0.bond.begin == open.atom && $0.bond.end == atom) }) {
                            throw error("ring bond \(number) duplicates a bond", at: column)
                        }
                        if let a = open.order, let b = pendingOrder, a != b { throw error("ring bond \(number) has two different bond orders", at: column) }
                        let order = pendingOrder ?? open.order ?? implicitOrder(open.atom, atom)
                        var bond: Bond
                        if open.order != nil && pendingOrder == nil || (open.direction != .none && pendingDirection == .none) {
                            bond = Bond(begin: open.atom, end: atom, order: order)
                            bond.direction = open.direction
                        } else {
                            bond = Bond(begin: atom, end: open.atom, order: order)
                            bond.direction = pendingDirection
                        }
                        closures.append((bond, number))
                        molecule.writtenNeighbours[open.atom][open.slot] = atom
                        molecule.writtenNeighbours[atom].append(open.atom)
                    } else {
                        openRings[number] = OpenRing(atom: atom, order: pendingOrder, direction: pendingDirection, column: column,
                                                     slot: molecule.writtenNeighbours[atom].count)
                        molecule.writtenNeighbours[atom].append(-2)  // the partner, once the ring closes
                    }
                    pendingOrder = nil
                    pendingDirection = .none
                default:
                    let column = position
                    var atom = try parseAtom()
                    atom.sourcePosition = column + 1
                    let index = molecule.addAtom(atom)
                    molecule.writtenNeighbours.append([])
                    if let from = previous {
                        molecule.writtenNeighbours[index].append(from)
                        molecule.writtenNeighbours[from].append(index)
                        var bond = pendingDativeReversed ? Bond(begin: index, end: from, order: .dative)
                            : Bond(begin: from, end: index, order: pendingOrder ?? implicitOrder(from, index))
                        pendingDativeReversed = false
                        bond.direction = pendingDirection
                        molecule.addBond(bond)
                    } else if pendingOrder != nil || pendingDirection != .none {
                        throw error("a bond symbol must follow an atom", at: pendingColumn)
                    }
                    if atom.explicitHydrogens > 0 { molecule.writtenNeighbours[index].append(-1) }
                    pendingOrder = nil
                    pendingDirection = .none
                    previous = index
                    afterDot = false
                }
            }
            if pendingOrder != nil || pendingDirection != .none { throw error("the SMILES ends in a bond symbol", at: pendingColumn) }
            if afterDot { throw error("the SMILES ends in '.'") }
            if !branchStack.isEmpty { throw error("unclosed '('") }
            if let (number, open) = openRings.min(by: { $0.value.column < $1.value.column }) {
                throw error("ring bond \(number) is opened and never closed", at: open.column)
            }
            // RDKit adds ring-closure bonds by ring number, in closing order within a number.
            for closure in closures.enumerated().sorted(by: { ($0.element.number, $0.offset) < ($1.element.number, $1.offset) }) {
                molecule.addBond(closure.element.bond)
            }
            return molecule
        }

        func implicitOrder(_ a: Int, _ b: Int) -> BondOrder {
            molecule.atoms[a].writtenAromatic && molecule.atoms[b].writtenAromatic ? .aromatic : .single
        }

        mutating func ringNumber() throws(MoleculeInputError) -> Int {
            guard let c = current else { throw error("expected a ring-closure number") }
            if c == "%" {
                position += 1
                if current == "(" {
                    position += 1
                    var digits = 0, value = 0
                    while let d = current, let v = d.properties.numericType != nil ? Int(String(d)) : nil {
                        value = value * 10 + v
                        digits += 1
                        position += 1
                        if digits > 5 { throw error("ring-closure number too long") }
                    }
                    guard digits > 0, current == ")" else { throw error("expected %(digits)") }
                    position += 1
                    return value
                }
                guard let d1 = current.flatMap({ Int(String($0)) }) else { throw error("'%' must be followed by two digits") }
                position += 1
                guard let d2 = current.flatMap({ Int(String($0)) }) else { throw error("'%' must be followed by two digits") }
                position += 1
                return d1 * 10 + d2
            }
            position += 1
            return Int(String(c))!
        }

        mutating func parseAtom() throws(MoleculeInputError) -> Atom {
            guard let c = current else { throw error("expected an atom") }
            if c == "[" { return try parseBracketAtom() }
            if c == "*" {
                position += 1
                return Atom(element: 0)
            }
            // Two-letter organic symbols first (Cl, Br).
            if position + 1 < characters.count {
                let pair = String(c) + String(characters[position + 1])
                if pair == "Cl" || pair == "Br" {
                    position += 2
                    return Atom(element: PeriodicTable.bySymbol[pair]!.number)
                }
            }
            let symbol = String(c)
            if SMILES.organicSubset.contains(symbol) {
                position += 1
                return Atom(element: PeriodicTable.bySymbol[symbol]!.number)
            }
            if SMILES.aromaticOrganic.contains(symbol) {
                position += 1
                var atom = Atom(element: PeriodicTable.bySymbol[symbol.uppercased()]!.number)
                atom.writtenAromatic = true
                return atom
            }
            if c.properties.isAlphabetic {
                let previous = position > 0 ? String(characters[position - 1]) : ""
                if let element = PeriodicTable.bySymbol[previous + symbol] {
                    throw error("'\(symbol)' is not an atom; \(element.symbol) is outside the organic subset and goes in brackets: [\(element.symbol)]")
                }
                throw error("'\(symbol)' is not an organic-subset atom; other elements go in brackets, e.g. [\(symbol)]")
            }
            throw error("unexpected character '\(symbol)'")
        }

        mutating func readNumber(maxDigits: Int) -> Int? {
            var value = 0, digits = 0
            while digits < maxDigits, let c = current, let v = Int(String(c)), c.isASCII {
                value = value * 10 + v
                digits += 1
                position += 1
            }
            return digits > 0 ? value : nil
        }

        mutating func parseBracketAtom() throws(MoleculeInputError) -> Atom {
            let open = position
            position += 1
            let isotope = readNumber(maxDigits: 4)
            guard let first = current else { throw error("unclosed '['", at: open) }
            var symbol = String(first)
            var aromatic = false
            if first == "*" {
                position += 1
            } else if first.properties.isUppercase {
                position += 1
                if let second = current, second.properties.isLowercase, PeriodicTable.bySymbol[symbol + String(second)] != nil {
                    symbol += String(second)
                    position += 1
                }
                if PeriodicTable.bySymbol[symbol] == nil {
                    while let next = current, next.properties.isLowercase { symbol += String(next); position += 1 }
                    throw error("unknown element '\(symbol)'", at: open + 1)
                }
            } else if first.properties.isLowercase {
                position += 1
                if let second = current, SMILES.aromaticBracket.contains(symbol + String(second)) {
                    symbol += String(second)
                    position += 1
                }
                guard SMILES.aromaticBracket.contains(symbol) else { throw error("'\(symbol)' is not an aromatic element", at: open + 1) }
                aromatic = true
                symbol = symbol.prefix(1).uppercased() + symbol.dropFirst()
            } else {
                throw error("expected an element symbol after '['")
            }
            var atom = Atom(element: symbol == "*" ? 0 : PeriodicTable.bySymbol[symbol]!.number)
            atom.isotope = isotope
            atom.writtenAromatic = aromatic
            atom.noImplicit = true
            if current == "@" {
                position += 1
                if current == "@" {
                    position += 1
                    atom.chirality = .clockwise
                } else if let c = current, c.properties.isUppercase, c != "H" {
                    let start = position
                    while let d = current, d.properties.isUppercase || (d.isASCII && Int(String(d)) != nil) { position += 1 }
                    atom.chirality = .other("@" + String(String.UnicodeScalarView(characters[start..<position])))
                } else {
                    atom.chirality = .anticlockwise
                }
            }
            if current == "H" {
                position += 1
                atom.explicitHydrogens = readNumber(maxDigits: 1) ?? 1
            }
            if let c = current, c == "+" || c == "-" {
                position += 1
                let sign = c == "+" ? 1 : -1
                if let magnitude = readNumber(maxDigits: 2) {
                    atom.charge = sign * magnitude
                } else {
                    var magnitude = 1
                    while current == c { magnitude += 1; position += 1 }
                    atom.charge = sign * magnitude
                }
                if abs(atom.charge) > 15 { throw error("charge \(atom.charge) is out of range") }
            }
            if current == ":" {
                position += 1
                guard let map = readNumber(maxDigits: 6) else { throw error("expected an atom-class number after ':'") }
                atom.mapNumber = map
            }
            guard current == "]" else {
                if current == nil { throw error("unclosed '['", at: open) }
                throw error("unexpected '\(String(current!))' in a bracket atom")
            }
            position += 1
            return atom
        }
    }
}
