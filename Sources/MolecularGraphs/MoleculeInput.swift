// Molecule files in (each may be gzip-compressed, `.sdf.gz`): SMILES lists (`.smi`, `.smiles`, `.txt`: a SMILES per line, anything after the
// first whitespace a name, `#` comments), CSV with a `smiles` column (PCQM4Mv2's layout: `idx`,
// `smiles`, `homolumogap`), and MOL/SD files (V2000, V3000). Every molecule keeps where it came from
// (line or record number) so outputs can be checked against the input.
import Foundation
import TensorIO

public struct MoleculeEntry: Sendable {
    /// 1-based line (SMILES, CSV) or record (SDF) number.
    public var record: Int
    public var text: String
    public var molecule: Molecule
    /// Other CSV columns or SD data items, by name.
    public var properties: [String: String]
    /// Coordinates from MOL/SD input (heavy atoms, input order).
    public var positions: [SIMD3<Double>]?
}

public enum MoleculeInputFormat: String, Sendable, CaseIterable {
    case smiles, csv, sdf

    /// From the extension, a `.gz` after it allowed (`mols.sdf.gz`).
    public init(path: String) throws(MoleculeInputError) {
        var url = URL(fileURLWithPath: path)
        if url.pathExtension.lowercased() == "gz" { url = url.deletingPathExtension() }
        switch url.pathExtension.lowercased() {
        case "smi", "smiles", "txt": self = .smiles
        case "csv": self = .csv
        case "sdf", "mol", "sd": self = .sdf
        case let other:
            throw MoleculeInputError(file: path, line: 0, column: 0, message: "unknown molecule file type '.\(other)' (expected .smi, .csv, .sdf or .mol)")
        }
    }
}

public enum MoleculeInput {
    /// Reads and perceives every molecule of `path`. With `skipInvalid`, a molecule that cannot be read
    /// is reported through `skipped` and left out; otherwise the first one ends the read with its error.
    public static func read(_ path: String, skipInvalid: Bool = false,
                            skipped: (MoleculeInputError) -> Void = { _ in }) throws -> [MoleculeEntry] {
        let format = try MoleculeInputFormat(path: path)
        let bytes: [UInt8]
        do { bytes = try CompressedText.read(path) } catch {
            throw MoleculeInputError(file: path, line: 0, column: 0, message: "cannot read the file (missing, unreadable or a damaged gzip stream)")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw MoleculeInputError(file: path, line: 0, column: 0, message: "not UTF-8 text")
        }
        var entries: [MoleculeEntry] = []
        func add(_ make: () throws(MoleculeInputError) -> MoleculeEntry) throws {
            do {
                entries.append(try make())
            } catch {
                if skipInvalid { skipped(error) } else { throw error }
            }
        }
        switch format {
        case .smiles:
            for (offset, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
                if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
                let smiles = String(trimmed.split(whereSeparator: { $0 == " " || $0 == "\t" })[0])
                let name = trimmed.dropFirst(smiles.count).trimmingCharacters(in: .whitespaces)
                try add { () throws(MoleculeInputError) in
                    let molecule = try perceived(SMILES.parse(smiles, file: path, line: offset + 1), text: smiles, file: path, line: offset + 1)
                    return MoleculeEntry(record: offset + 1, text: smiles, molecule: molecule, properties: name.isEmpty ? [:] : ["name": name], positions: nil)
                }
            }
        case .csv:
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.hasSuffix("\r") ? String($0.dropLast()) : String($0) }
            guard let header = lines.first, !header.isEmpty else { throw MoleculeInputError(file: path, line: 1, column: 0, message: "empty CSV: expected a header with a 'smiles' column") }
            let columns = header.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard let smilesColumn = columns.firstIndex(where: { $0.lowercased() == "smiles" }) else {
                throw MoleculeInputError(file: path, line: 1, column: 0, message: "no 'smiles' column in the header (columns: \(columns.joined(separator: ", ")))")
            }
            for (offset, line) in lines.enumerated().dropFirst() where !line.trimmingCharacters(in: .whitespaces).isEmpty {
                let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
                try add { () throws(MoleculeInputError) in
                    guard fields.count == columns.count else {
                        throw MoleculeInputError(file: path, line: offset + 1, column: 0, message: "\(fields.count) fields, the header has \(columns.count)")
                    }
                    let smiles = fields[smilesColumn]
                    let molecule = try perceived(SMILES.parse(smiles, file: path, line: offset + 1), text: smiles, file: path, line: offset + 1)
                    var properties: [String: String] = [:]
                    for (name, value) in zip(columns, fields) where name != columns[smilesColumn] { properties[name] = value }
                    return MoleculeEntry(record: offset + 1, text: smiles, molecule: molecule, properties: properties, positions: nil)
                }
            }
        case .sdf:
            for record in try MolFile.parse(text, file: path) {
                try add { () throws(MoleculeInputError) in
                    let molecule = try perceived(record.molecule, text: "record \(record.record)", file: path, line: record.line)
                    var properties = record.properties
                    if !record.name.isEmpty { properties["name"] = record.name }
                    return MoleculeEntry(record: record.record, text: record.name, molecule: molecule, properties: properties, positions: record.positions)
                }
            }
        }
        if entries.isEmpty && !skipInvalid {
            throw MoleculeInputError(file: path, line: 0, column: 0, message: "no molecules in the file")
        }
        return entries
    }

    static func perceived(_ molecule: Molecule, text: String, file: String, line: Int) throws(MoleculeInputError) -> Molecule {
        var molecule = molecule
        do {
            try molecule.perceive()
        } catch {
            throw MoleculeInputError(file: file, line: line, column: 0, message: "\(text): \(error.message)")
        }
        return molecule
    }
}
