// Protein coordinates from mmCIF (the atom_site loop) and PDB (ATOM records): ground truth for
// the structure metrics and the reader of our own predictions. The first model only; alternate
// locations other than the first are dropped; residues are numbered by label_seq_id (mmCIF, the
// SEQRES position a query FASTA follows) or resSeq (PDB).
import Foundation
import TensorIO

public struct StructureResidue: Sendable, Equatable {
    public let number: Int
    /// Three-letter name (ALA, …).
    public let name: String
    /// Atom name → coordinates in Å.
    public var atoms: [String: SIMD3<Double>]
    /// Atom name → B-factor.
    public var bFactors: [String: Double]
}

public struct ProteinChain: Sendable {
    public let id: String
    public var residues: [StructureResidue]

    /// Cα coordinates by residue number.
    public var alphaCarbons: [Int: SIMD3<Double>] {
        var result: [Int: SIMD3<Double>] = [:]
        for residue in residues { if let ca = residue.atoms["CA"] { result[residue.number] = ca } }
        return result
    }
}

public struct ProteinStructure: Sendable {
    public let file: String
    public var chains: [ProteinChain]

    /// The chain with this id (author id first, as people name chains), or the only chain when
    /// `id` is nil and there is exactly one.
    public func chain(_ id: String?) throws -> ProteinChain {
        if let id {
            if let chain = chains.first(where: { $0.id == id }) { return chain }
            throw FileError(file: file, line: 0, message: "no protein chain '\(id)' (chains: \(chains.map(\.id).joined(separator: ", ")))")
        }
        guard chains.count == 1 else {
            throw FileError(file: file, line: 0,
                                    message: "\(chains.count) protein chains (\(chains.map(\.id).joined(separator: ", "))); choose one with --chain")
        }
        return chains[0]
    }

    /// Reads `.cif`/`.mmcif` as mmCIF and anything else as PDB.
    public static func read(_ path: String) throws -> ProteinStructure {
        let text = try AlignmentParsers.text(of: path)
        let lower = path.lowercased()
        let structure = lower.hasSuffix(".cif") || lower.hasSuffix(".mmcif") ? try mmCIF(text, file: path) : try pdb(text, file: path)
        guard !structure.chains.isEmpty else { throw FileError(file: path, line: 0, message: "no protein atoms (ATOM records with a CA)") }
        return structure
    }

    /// Accumulates atoms into chains in file order.
    struct Builder {
        var chains: [ProteinChain] = []
        var index: [String: Int] = [:]

        mutating func add(chain: String, number: Int, residueName: String, atom: String, position: SIMD3<Double>, bFactor: Double) {
            let c: Int
            if let existing = index[chain] { c = existing } else {
                c = chains.count
                index[chain] = c
                chains.append(ProteinChain(id: chain, residues: []))
            }
            if chains[c].residues.last?.number != number {
                chains[c].residues.append(StructureResidue(number: number, name: residueName, atoms: [:], bFactors: [:]))
            }
            let last = chains[c].residues.count - 1
            if chains[c].residues[last].atoms[atom] == nil {
                chains[c].residues[last].atoms[atom] = position
                chains[c].residues[last].bFactors[atom] = bFactor
            }
        }

        func finished(file: String) -> ProteinStructure {
            ProteinStructure(file: file, chains: chains.filter { $0.residues.contains { $0.atoms["CA"] != nil } })
        }
    }

    /// Whitespace-separated mmCIF tokens, with '…' and "…" quoting.
    static func tokens(_ line: Substring) -> [Substring] {
        var result: [Substring] = []
        var i = line.startIndex
        while i < line.endIndex {
            while i < line.endIndex, line[i] == " " || line[i] == "\t" { i = line.index(after: i) }
            guard i < line.endIndex else { break }
            if line[i] == "'" || line[i] == "\"" {
                let quote = line[i]
                let start = line.index(after: i)
                var end = start
                // A closing quote counts only when followed by whitespace or the end of the line.
                while end < line.endIndex {
                    let next = line.index(after: end)
                    if line[end] == quote && (next == line.endIndex || line[next] == " " || line[next] == "\t") { break }
                    end = next
                }
                result.append(line[start..<end])
                i = end < line.endIndex ? line.index(after: end) : end
            } else {
                let start = i
                while i < line.endIndex, line[i] != " " && line[i] != "\t" { i = line.index(after: i) }
                result.append(line[start..<i])
            }
        }
        return result
    }

    public static func mmCIF(_ text: String, file: String) throws -> ProteinStructure {
        var columns: [String: Int] = [:], columnCount = 0
        var inAtomLoop = false, sawLoop = false, headerDone = false
        var builder = Builder()
        var firstModel: Substring?
        for (lineIndex, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.hasPrefix("loop_") {
                sawLoop = true
                inAtomLoop = false
                columns = [:]
                columnCount = 0
                headerDone = false
                continue
            }
            if sawLoop && !headerDone && line.hasPrefix("_atom_site.") {
                inAtomLoop = true
                columns[String(line.dropFirst("_atom_site.".count).split(separator: " ").first ?? "")] = columnCount
                columnCount += 1
                continue
            }
            guard inAtomLoop else { continue }
            if line.hasPrefix("_") || line.hasPrefix("#") || line.hasPrefix("data_") {
                inAtomLoop = false
                sawLoop = false
                continue
            }
            headerDone = true
            let fields = tokens(line)
            if fields.isEmpty { continue }
            guard fields.count == columnCount else {
                throw FileError(file: file, line: lineIndex + 1, message: "atom_site row has \(fields.count) values; the loop declares \(columnCount)")
            }
            func value(_ name: String) -> Substring? { columns[name].map { fields[$0] } }
            guard let group = value("group_PDB"), let atom = value("label_atom_id") ?? value("auth_atom_id"),
                  let residueName = value("label_comp_id"), let x = value("Cartn_x").flatMap(Double.finite),
                  let y = value("Cartn_y").flatMap(Double.finite), let z = value("Cartn_z").flatMap(Double.finite) else {
                throw FileError(file: file, line: lineIndex + 1, message: "atom_site row lacks group_PDB, atom id, comp id or finite numeric Cartn_x/y/z")
            }
            guard group == "ATOM" else { continue }
            if let model = value("pdbx_PDB_model_num") {
                if firstModel == nil { firstModel = model }
                if model != firstModel { continue }
            }
            if let alternate = value("label_alt_id"), alternate != ".", alternate != "?", alternate != "A" { continue }
            guard let number = (value("label_seq_id").flatMap { Int($0) }) ?? (value("auth_seq_id").flatMap { Int($0) }) else { continue }
            let chain = String(value("auth_asym_id") ?? value("label_asym_id") ?? "A")
            let bFactor = value("B_iso_or_equiv").flatMap { Double($0) } ?? 0
            builder.add(chain: chain, number: number, residueName: String(residueName), atom: String(atom), position: SIMD3(x, y, z), bFactor: bFactor)
        }
        return builder.finished(file: file)
    }

    public static func pdb(_ text: String, file: String) throws -> ProteinStructure {
        var builder = Builder()
        for (lineIndex, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if rawLine.hasPrefix("ENDMDL") { break }
            guard rawLine.hasPrefix("ATOM  ") else { continue }
            let line = Array(rawLine.utf8)
            func field(_ from: Int, _ to: Int) -> String {  // 1-based inclusive PDB columns
                guard from - 1 < line.count else { return "" }
                return String(decoding: line[(from - 1)..<Swift.min(to, line.count)], as: UTF8.self).trimmingCharacters(in: .whitespaces)
            }
            guard let x = Double.finite(field(31, 38)), let y = Double.finite(field(39, 46)), let z = Double.finite(field(47, 54)), let number = Int(field(23, 26)) else {
                throw FileError(file: file, line: lineIndex + 1, message: "ATOM record without finite numeric coordinates (columns 31–54) or residue number (23–26)")
            }
            let alternate = field(17, 17)
            if !alternate.isEmpty && alternate != "A" { continue }
            let chain = field(22, 22)
            builder.add(chain: chain.isEmpty ? "A" : chain, number: number, residueName: field(18, 20), atom: field(13, 16), position: SIMD3(x, y, z),
                        bFactor: Double(field(61, 66)) ?? 0)
        }
        return builder.finished(file: file)
    }
}
