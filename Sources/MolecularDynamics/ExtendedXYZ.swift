// Extended XYZ, the frame format ASE, MACE and most force-field codes exchange: per frame a line
// with the atom count, a comment line of key=value pairs (Lattice="9 numbers" as the cell's rows,
// Properties=name:type:columns:…, energy=…, stress="3×3 or 6 numbers", pbc="T T T", anything
// else kept as info), then one row per atom with the Properties' columns.
// Reference values are read under ASE's names (energy, forces, stress) or MACE's (REF_energy,
// REF_forces, REF_stress). Every problem is a FileError naming the file, the line and what was
// expected; nothing is guessed.
import Foundation
import Graphs
import TensorIO

/// One frame: the atoms and what was computed for them.
public struct AtomicFrame: Sendable {
    public var system: AtomicSystem
    /// eV.
    public var energy: Double?
    /// eV/Å.
    public var forces: [SIMD3<Double>]?
    /// eV/Å³, Voigt order xx, yy, zz, yz, xz, xy, ASE's sign.
    public var stress: [Double]?
    /// The comment line's other key=value pairs, as written.
    public var info: [String: String] = [:]
    /// The line of the frame's atom count (1-based).
    public var line = 0

    public init(system: AtomicSystem, energy: Double? = nil, forces: [SIMD3<Double>]? = nil, stress: [Double]? = nil) {
        (self.system, self.energy, self.forces, self.stress) = (system, energy, forces, stress)
    }
}

public enum ExtendedXYZ {
    /// Every frame of `path`.
    public static func read(_ path: String) throws -> [AtomicFrame] {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw FileError(file: path, message: "cannot read the file (\(error.localizedDescription))")
        }
        return try frames(in: text, file: path)
    }

    /// The frames of extended XYZ `text` read from `file`.
    public static func frames(in text: String, file: String) throws -> [AtomicFrame] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.hasSuffix("\r") ? $0.dropLast() : $0 }
        var frames: [AtomicFrame] = [], index = 0
        while index < lines.count {
            if lines[index].allSatisfy(\.isWhitespace) { index += 1; continue }
            let start = index + 1
            guard let count = Int(lines[index].trimmingCharacters(in: .whitespaces)), count >= 0 else {
                throw FileError(file: file, line: start, message: "expected the number of atoms of a frame, got '\(lines[index])'")
            }
            // Rows present before the end of the file (a final newline leaves one empty string).
            let present = Swift.max(0, (lines.last?.isEmpty == true ? lines.count - 1 : lines.count) - (index + 2))
            guard present >= count else {
                throw FileError(file: file, line: start, key: "frame \(frames.count)", message: "the frame declares \(count) atoms but the file ends after \(present) of them")
            }
            var frame: AtomicFrame
            do {
                frame = try parseFrame(comment: String(lines[index + 1]), rows: lines[(index + 2)..<(index + 2 + count)].map(String.init),
                                       file: file, line: start)
            } catch var error as FileError {
                error.key = "frame \(frames.count)" + (error.key.map { ", \($0)" } ?? "")
                throw error
            }
            frame.line = start
            frames.append(frame)
            index += 2 + count
        }
        return frames
    }

    /// The comment line's key=value pairs (values may be quoted); a bare key is "T".
    static func pairs(_ comment: String, file: String, line: Int) throws -> [(String, String)] {
        var result: [(String, String)] = []
        var characters = Substring(comment)
        func skipSpaces() { characters = characters.drop { $0 == " " || $0 == "\t" } }
        skipSpaces()
        while let first = characters.first {
            guard first != "=" else { throw FileError(file: file, line: line, message: "a value without a key in the comment line") }
            let key = characters.prefix { $0 != "=" && $0 != " " && $0 != "\t" }
            characters = characters.dropFirst(key.count)
            guard characters.first == "=" else { result.append((String(key), "T")); skipSpaces(); continue }
            characters = characters.dropFirst()
            var value: Substring
            if let quote = characters.first, quote == "\"" || quote == "'" {
                characters = characters.dropFirst()
                guard let close = characters.firstIndex(of: quote) else {
                    throw FileError(file: file, line: line, message: "the value of '\(key)' opens a quote it never closes")
                }
                value = characters[..<close]
                characters = characters[characters.index(after: close)...]
            } else {
                value = characters.prefix { $0 != " " && $0 != "\t" }
                characters = characters.dropFirst(value.count)
            }
            result.append((String(key), String(value)))
            skipSpaces()
        }
        return result
    }

    private static func numbers(_ text: String, key: String, file: String, line: Int) throws -> [Double] {
        try text.split(whereSeparator: { $0 == " " || $0 == "," }).map { word in
            guard let value = Double.finite(word) else { throw FileError(file: file, line: line, key: "key '\(key)'", message: "'\(word)' is not a finite number") }
            return value
        }
    }

    static func parseFrame(comment: String, rows: [String], file: String, line: Int) throws -> AtomicFrame {
        let commentLine = line + 1
        var info: [String: String] = [:]
        for (key, value) in try pairs(comment, file: file, line: commentLine) { info[key] = value }
        // Cell and periodicity: pbc defaults to true on every axis when a Lattice is given (ASE).
        var vectors = [SIMD3<Double>](repeating: .zero, count: 3)
        if let lattice = info.removeValue(forKey: "Lattice") {
            let values = try numbers(lattice, key: "Lattice", file: file, line: commentLine)
            guard values.count == 9 else {
                throw FileError(file: file, line: commentLine, key: "key 'Lattice'", message: "needs 9 numbers (three cell vectors), got \(values.count)")
            }
            vectors = (0..<3).map { SIMD3(values[3 * $0], values[3 * $0 + 1], values[3 * $0 + 2]) }
        }
        let hasLattice = vectors.contains { $0 != .zero }
        var pbc = [Bool](repeating: hasLattice, count: 3)
        if let flags = info.removeValue(forKey: "pbc") {
            pbc = flags.split(separator: " ").map { ["T", "True", "true", "1"].contains(String($0)) }
            guard pbc.count == 3 else { throw FileError(file: file, line: commentLine, key: "key 'pbc'", message: "needs 3 flags, got '\(flags)'") }
        }
        let cell: PeriodicCell
        do { cell = try PeriodicCell(vectors: vectors, pbc: pbc) } catch {
            throw FileError(file: file, line: commentLine, key: "key 'Lattice'", message: "\(error)")
        }
        // Columns: name:type:count triples.
        let properties = (info.removeValue(forKey: "Properties") ?? "species:S:1:pos:R:3").split(separator: ":").map(String.init)
        guard properties.count % 3 == 0 else {
            throw FileError(file: file, line: commentLine, key: "key 'Properties'", message: "must be name:type:columns triples, got \(properties.joined(separator: ":"))")
        }
        var columns: [String: (start: Int, count: Int, type: String)] = [:], width = 0
        for k in stride(from: 0, to: properties.count, by: 3) {
            guard let count = Int(properties[k + 2]), (1...4096).contains(count), ["S", "R", "I", "L"].contains(properties[k + 1]) else {
                throw FileError(file: file, line: commentLine, key: "key 'Properties'",
                                message: "'\(properties[k]):\(properties[k + 1]):\(properties[k + 2])' needs a type S, R, I or L and a column count")
            }
            columns[properties[k]] = (width, count, properties[k + 1])
            width += count
        }
        guard columns["pos"] != nil else {
            throw FileError(file: file, line: commentLine, key: "key 'Properties'", message: "has no pos:R:3 column")
        }
        var numbers: [Int] = [], positions: [SIMD3<Double>] = []
        var vectorsByName: [String: [SIMD3<Double>]] = [:], masses: [Double]?
        for (offset, row) in rows.enumerated() {
            let rowLine = commentLine + 1 + offset
            let fields = row.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count == width else {
                throw FileError(file: file, line: rowLine, message: "\(fields.count) columns, but Properties=\(properties.joined(separator: ":")) needs \(width)")
            }
            func real(_ name: String, _ k: Int) throws -> Double {
                guard let value = Double.finite(fields[columns[name]!.start + k]) else {
                    throw FileError(file: file, line: rowLine, key: "column '\(name)'", message: "'\(fields[columns[name]!.start + k])' is not a finite number")
                }
                return value
            }
            if let species = columns["species"] {
                let symbol = String(fields[species.start])
                guard let number = Elements.number(of: symbol) else {
                    throw FileError(file: file, line: rowLine, key: "column 'species'", message: "'\(symbol)' is not a chemical symbol")
                }
                numbers.append(number)
            } else if columns["Z"] != nil {
                numbers.append(Int(try real("Z", 0)))
            } else {
                throw FileError(file: file, line: commentLine, key: "key 'Properties'", message: "has neither a species:S:1 nor a Z:I:1 column")
            }
            positions.append(SIMD3(try real("pos", 0), try real("pos", 1), try real("pos", 2)))
            for name in ["forces", "REF_forces", "momenta"] where columns[name] != nil {
                guard columns[name]!.count == 3 else {
                    throw FileError(file: file, line: commentLine, key: "key 'Properties'", message: "'\(name)' must have 3 columns")
                }
                vectorsByName[name, default: []].append(SIMD3(try real(name, 0), try real(name, 1), try real(name, 2)))
            }
            if columns["masses"] != nil { masses = (masses ?? []) + [try real("masses", 0)] }
        }
        let system: AtomicSystem
        do { system = try AtomicSystem(numbers: numbers, positions: positions, cell: cell, masses: masses, momenta: vectorsByName["momenta"]) } catch {
            throw FileError(file: file, line: line, message: "\(error)")
        }
        var frame = AtomicFrame(system: system)
        frame.forces = vectorsByName["forces"] ?? vectorsByName["REF_forces"]
        for key in ["energy", "REF_energy"] {
            guard let text = info.removeValue(forKey: key) else { continue }
            guard let value = Double.finite(text) else { throw FileError(file: file, line: commentLine, key: "key '\(key)'", message: "'\(text)' is not a finite number") }
            frame.energy = frame.energy ?? value
        }
        for key in ["stress", "REF_stress"] {
            guard let text = info.removeValue(forKey: key) else { continue }
            let v = try self.numbers(text, key: key, file: file, line: commentLine)
            switch v.count {
            case 9: frame.stress = frame.stress ?? [v[0], v[4], v[8], v[5], v[2], v[1]]
            case 6: frame.stress = frame.stress ?? v
            default: throw FileError(file: file, line: commentLine, key: "key '\(key)'", message: "needs 9 (3×3) or 6 (Voigt) numbers, got \(v.count)")
            }
        }
        frame.info = info
        return frame
    }

    /// The frames as extended XYZ text in ASE's layout (shortest round-trip numbers).
    public static func format(_ frames: [AtomicFrame]) -> String {
        var text = ""
        for frame in frames {
            let system = frame.system
            var comment: [String] = []
            if system.cell.vectors.contains(where: { $0 != .zero }) {
                comment.append("Lattice=\"" + system.cell.vectors.flatMap { [$0.x, $0.y, $0.z] }.map { "\($0)" }.joined(separator: " ") + "\"")
            }
            let hasMomenta = system.momenta.contains { $0 != .zero }
            comment.append("Properties=species:S:1:pos:R:3" + (hasMomenta ? ":momenta:R:3" : "") + (frame.forces != nil ? ":forces:R:3" : ""))
            if let energy = frame.energy { comment.append("energy=\(energy)") }
            if let s = frame.stress {
                let full = [s[0], s[5], s[4], s[5], s[1], s[3], s[4], s[3], s[2]]
                comment.append("stress=\"" + full.map { "\($0)" }.joined(separator: " ") + "\"")
            }
            for (key, value) in frame.info.sorted(by: { $0.key < $1.key }) {
                comment.append(value.contains(" ") ? "\(key)=\"\(value)\"" : "\(key)=\(value)")
            }
            comment.append("pbc=\"" + system.cell.pbc.map { $0 ? "T" : "F" }.joined(separator: " ") + "\"")
            text += "\(system.count)\n" + comment.joined(separator: " ") + "\n"
            for atom in 0..<system.count {
                var fields = [Elements.symbols[system.numbers[atom]]]
                let r = system.positions[atom]
                fields += [r.x, r.y, r.z].map { "\($0)" }
                if hasMomenta { let p = system.momenta[atom]; fields += [p.x, p.y, p.z].map { "\($0)" } }
                if let forces = frame.forces { let f = forces[atom]; fields += [f.x, f.y, f.z].map { "\($0)" } }
                text += fields.joined(separator: " ") + "\n"
            }
        }
        return text
    }

    /// Writes the frames to `path` through a temporary name, so a kill never leaves half a file.
    public static func write(_ frames: [AtomicFrame], to path: String) throws {
        do { try format(frames).write(toFile: path, atomically: true, encoding: .utf8) } catch {
            throw FileError(file: path, message: "cannot write (\(error.localizedDescription))")
        }
    }
}
