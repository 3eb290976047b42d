// MDL MOL and SD files, V2000 and V3000 connection tables: atoms with 3D (or 2D) coordinates,
// charges (the atom block's charge code, `M  CHG` or V3000 `CHG=`), isotopes (`M  ISO`, `MASS=`),
// radicals (`M  RAD`, `RAD=`), bonds of order 1, 2, 3 and 4 (aromatic). Records of an SD file end
// at `$$$$`; data items (`> <name>`) are kept as strings. As RDKit reads them: every atom takes
// implicit hydrogens by the valence model, and plain hydrogens are folded into their atoms.
import TensorIO

/// One record of an SD file.
public struct MolRecord: Sendable {
    public var molecule: Molecule
    /// Å (or whatever the file used), one per atom after hydrogens are folded in.
    public var positions: [SIMD3<Double>]
    public var name: String
    /// 1-based record number and the line its header starts on.
    public var record: Int
    public var line: Int
    public var properties: [String: String]
}

public enum MolFile {
    /// Every record of an SD (or single MOL) file's text.
    public static func parse(_ text: String, file: String) throws(MoleculeInputError) -> [MolRecord] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.hasSuffix("\r") ? String($0.dropLast()) : String($0) }
        var records: [MolRecord] = []
        var start = 0
        while start < lines.count {
            // Skip blank trailing lines after the last `$$$$`.
            if lines[start...].allSatisfy({ $0.trimmingCharacters(in: .whitespaces).isEmpty }) { break }
            var end = start
            while end < lines.count && lines[end] != "$$$$" { end += 1 }
            var record = try parseRecord(lines, from: start, to: end, file: file, record: records.count + 1)
            record.properties = dataItems(lines, from: start, to: end)
            records.append(record)
            start = end + 1
        }
        if records.isEmpty { throw MoleculeInputError(file: file, line: 1, column: 0, message: "no molecule records") }
        return records
    }

    static func dataItems(_ lines: [String], from start: Int, to end: Int) -> [String: String] {
        var items: [String: String] = [:]
        var i = start
        while i < end {
            let line = lines[i]
            if line.hasPrefix(">"), let open = line.firstIndex(of: "<"), let close = line[open...].firstIndex(of: ">") {
                let name = String(line[line.index(after: open)..<close])
                var value: [String] = []
                i += 1
                while i < end && !lines[i].isEmpty { value.append(lines[i]); i += 1 }
                items[name] = value.joined(separator: "\n")
            }
            i += 1
        }
        return items
    }

    static func parseRecord(_ lines: [String], from start: Int, to end: Int, file: String, record: Int) throws(MoleculeInputError) -> MolRecord {
        func fail(_ line: Int, _ message: String) -> MoleculeInputError {
            MoleculeInputError(file: file, line: line + 1, column: 0, message: "record \(record): \(message)")
        }
        guard end - start >= 4 else { throw fail(start, "a MOL record needs a header, a counts line and a connection table") }
        let countsLine = lines[start + 3]
        var molecule = Molecule()
        var positions: [SIMD3<Double>] = []
        if countsLine.contains("V3000") {
            try readV3000(lines, from: start + 4, to: end, into: &molecule, positions: &positions, fail: fail)
        } else {
            guard let atomCount = Int(field(countsLine, 0, 3)), let bondCount = Int(field(countsLine, 3, 3)), atomCount >= 0, bondCount >= 0 else {
                throw fail(start + 3, "counts line '\(countsLine)' does not give atom and bond counts")
            }
            guard start + 4 + atomCount + bondCount <= end else { throw fail(start + 3, "counts line promises \(atomCount) atoms and \(bondCount) bonds, the record is shorter") }
            for i in 0..<atomCount {
                let n = start + 4 + i, line = lines[n]
                guard let x = Double.finite(field(line, 0, 10)), let y = Double.finite(field(line, 10, 10)), let z = Double.finite(field(line, 20, 10)) else {
                    throw fail(n, "atom \(i + 1): expected finite x, y, z in columns 1–30")
                }
                let symbol = field(line, 31, 3)
                var atom = try makeAtom(symbol, line: n, fail: fail)
                // Charge code: 1 → +3, 2 → +2, 3 → +1, 4 doublet radical, 5 → −1, 6 → −2, 7 → −3.
                switch Int(field(line, 36, 3)) ?? 0 {
                case 1: atom.charge = 3
                case 2: atom.charge = 2
                case 3: atom.charge = 1
                case 5: atom.charge = -1
                case 6: atom.charge = -2
                case 7: atom.charge = -3
                default: break
                }
                atom.sourcePosition = n + 1
                _ = molecule.addAtom(atom)
                molecule.writtenNeighbours.append([])
                positions.append(SIMD3(x, y, z))
            }
            for i in 0..<bondCount {
                let n = start + 4 + atomCount + i, line = lines[n]
                guard let a = Int(field(line, 0, 3)), let b = Int(field(line, 3, 3)), let type = Int(field(line, 6, 3)) else {
                    throw fail(n, "bond \(i + 1): expected two atom numbers and a bond type")
                }
                try addBond(&molecule, a, b, type, line: n, fail: fail)
            }
            // Properties block: M  CHG / M  ISO / M  RAD replace the atom block's values.
            var sawCharge = false
            for n in (start + 4 + atomCount + bondCount)..<end {
                let line = lines[n]
                if line.hasPrefix("M  END") { break }
                let tag = String(line.prefix(6))
                guard tag == "M  CHG" || tag == "M  ISO" || tag == "M  RAD" else { continue }
                if tag == "M  CHG" && !sawCharge {
                    sawCharge = true
                    for i in molecule.atoms.indices { molecule.atoms[i].charge = 0 }
                }
                let values = line.dropFirst(9).split(separator: " ").compactMap { Int($0) }
                guard values.count % 2 == 0 else { throw fail(n, "\(tag) expects atom–value pairs") }
                // The MDL limits: charges −15…15, masses and atom numbers of at most a few digits.
                guard values.allSatisfy({ (-99_999...99_999).contains($0) }), tag != "M  CHG" || stride(from: 1, to: values.count, by: 2).allSatisfy({ (-15...15).contains(values[$0]) }) else {
                    throw fail(n, "\(tag) holds a value out of range (charges −15…15)")
                }
                for pair in stride(from: 0, to: values.count, by: 2) {
                    let index = values[pair] - 1, value = values[pair + 1]
                    guard molecule.atoms.indices.contains(index) else { throw fail(n, "\(tag) names atom \(index + 1) of \(molecule.atoms.count)") }
                    switch tag {
                    case "M  CHG": molecule.atoms[index].charge = value
                    case "M  ISO": molecule.atoms[index].isotope = value
                    default: molecule.atoms[index].radicalElectrons = value == 2 ? 1 : (value == 1 || value == 3 ? 2 : 0)
                    }
                }
            }
        }
        let name = lines[start].trimmingCharacters(in: .whitespaces)
        // Fold plain hydrogens in, keeping the heavy atoms' positions.
        let heavyPositions = foldHydrogens(&molecule, positions: positions)
        return MolRecord(molecule: molecule, positions: heavyPositions, name: name, record: record, line: start + 1, properties: [:])
    }

    static func foldHydrogens(_ molecule: inout Molecule, positions: [SIMD3<Double>]) -> [SIMD3<Double>] {
        let before = molecule.atoms.count
        var keptMarker = molecule
        for i in keptMarker.atoms.indices { keptMarker.atoms[i].mapNumber = i }
        keptMarker.removePlainHydrogens()
        guard keptMarker.atoms.count != before else { return positions }
        let kept = keptMarker.atoms.map { $0.mapNumber! }
        molecule.removePlainHydrogens()
        return kept.map { positions[$0] }
    }

    static func field(_ line: String, _ start: Int, _ width: Int) -> String {
        let characters = Array(line)
        guard start < characters.count else { return "" }
        return String(characters[start..<min(start + width, characters.count)]).trimmingCharacters(in: .whitespaces)
    }

    static func makeAtom(_ symbol: String, line: Int, fail: (Int, String) -> MoleculeInputError) throws(MoleculeInputError) -> Atom {
        if symbol == "*" || symbol == "R" || symbol == "A" || symbol == "Q" { return Atom(element: 0) }
        if symbol == "D" || symbol == "T" {
            var atom = Atom(element: 1)
            atom.isotope = symbol == "D" ? 2 : 3
            return atom
        }
        guard let element = PeriodicTable.bySymbol[symbol] else { throw fail(line, "unknown element symbol '\(symbol)'") }
        return Atom(element: element.number)
    }

    static func addBond(_ molecule: inout Molecule, _ a: Int, _ b: Int, _ type: Int, line: Int, fail: (Int, String) -> MoleculeInputError) throws(MoleculeInputError) {
        guard molecule.atoms.indices.contains(a - 1), molecule.atoms.indices.contains(b - 1), a != b else {
            throw fail(line, "bond between atoms \(a) and \(b) of \(molecule.atoms.count)")
        }
        guard molecule.bond(between: a - 1, b - 1) == nil else { throw fail(line, "a second bond between atoms \(a) and \(b)") }
        let order: BondOrder
        switch type {
        case 1: order = .single
        case 2: order = .double
        case 3: order = .triple
        case 4: order = .aromatic
        case 9: order = .dative
        default: throw fail(line, "bond type \(type) (query bonds) is not supported")
        }
        if order == .aromatic {
            molecule.atoms[a - 1].writtenAromatic = true
            molecule.atoms[b - 1].writtenAromatic = true
        }
        molecule.addBond(Bond(begin: a - 1, end: b - 1, order: order))
    }

    static func readV3000(_ lines: [String], from start: Int, to end: Int, into molecule: inout Molecule, positions: inout [SIMD3<Double>],
                          fail: (Int, String) -> MoleculeInputError) throws(MoleculeInputError) {
        var section = ""
        var n = start
        var numberToIndex: [Int: Int] = [:]
        while n < end {
            var line = lines[n]
            // A trailing '-' continues the entry on the next line.
            while line.hasSuffix("-"), n + 1 < end { n += 1; line = String(line.dropLast()) + lines[n].dropFirst(7) }
            defer { n += 1 }
            if line.hasPrefix("M  END") { return }
            guard line.hasPrefix("M  V30 ") else { continue }
            let words = line.dropFirst(7).split(separator: " ").map(String.init)
            guard let first = words.first else { continue }
            if first == "BEGIN" { section = words.count > 1 ? words[1] : ""; continue }
            if first == "END" { section = ""; continue }
            switch section {
            case "ATOM":
                guard words.count >= 5, let number = Int(words[0]), let x = Double.finite(words[2]), let y = Double.finite(words[3]),
                      let z = Double.finite(words[4]) else {
                    throw fail(n, "V3000 atom line needs index, type and finite x, y, z")
                }
                var atom = try makeAtom(words[1], line: n, fail: fail)
                for word in words.dropFirst(6) {
                    let parts = word.split(separator: "=", maxSplits: 1)
                    guard parts.count == 2, let value = Int(parts[1]) else { continue }
                    guard (parts[0] != "CHG" || (-15...15).contains(value)), (-99_999...99_999).contains(value) else {
                        throw fail(n, "V3000 \(parts[0])=\(value) is out of range (charges −15…15)")
                    }
                    switch parts[0] {
                    case "CHG": atom.charge = value
                    case "MASS": atom.isotope = value
                    case "RAD": atom.radicalElectrons = value == 2 ? 1 : (value == 1 || value == 3 ? 2 : 0)
                    default: break
                    }
                }
                atom.sourcePosition = n + 1
                numberToIndex[number] = molecule.addAtom(atom)
                molecule.writtenNeighbours.append([])
                positions.append(SIMD3(x, y, z))
            case "BOND":
                guard words.count >= 4, let type = Int(words[1]), let a = Int(words[2]), let b = Int(words[3]) else {
                    throw fail(n, "V3000 bond line needs index, type and two atoms")
                }
                guard let ia = numberToIndex[a], let ib = numberToIndex[b] else { throw fail(n, "V3000 bond names atom \(numberToIndex[a] == nil ? a : b), which is not defined") }
                try addBond(&molecule, ia + 1, ib + 1, type, line: n, fail: fail)
            default:
                break
            }
        }
        throw fail(end - 1, "V3000 connection table without 'M  END'")
    }
}
