// Template structures from PDB mmCIF files (openfold/data/mmcif_parsing.py): the release date
// (the oldest `_pdbx_audit_revision_history.revision_date`), the SEQRES of every protein chain
// (`_entity_poly_seq` of entities with a peptide monomer, named by the author chain id), and
// atom37 coordinates per SEQRES position from the first model's `atom_site` rows. As upstream's
// Biopython reading: an alternate location replaces an atom only with a higher occupancy,
// selenomethionine's SE fills SD, and arginine's NH1/NH2 are swapped when NH1 is the farther
// from CD. Modified residues take their parent's letter from the file's own
// `_pdbx_struct_mod_residue` table (upstream reads Biopython's list of 1,032); others are X.
import Foundation
import TensorIO

/// The items of one mmCIF data block: every `_category.item` with its values (one for a plain
/// item, one per row for a loop), as Biopython's MMCIF2Dict keeps them.
public struct CIFBlock: Sendable {
    public let file: String
    public var items: [String: [String]] = [:]

    public init(_ text: String, file: String) throws {
        self.file = file
        var tokens: [(String, Int)] = []
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var index = 0
        while index < lines.count {
            let line = lines[index]
            if line.hasPrefix(";") {  // a text field runs to the next line that starts with ';'
                var field = [String(line.dropFirst())]
                let start = index
                index += 1
                while index < lines.count, !lines[index].hasPrefix(";") { field.append(String(lines[index])); index += 1 }
                guard index < lines.count else { throw FileError(file: file, line: start + 1, message: "a ';' text field is not closed") }
                tokens.append((field.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines), start + 1))
                index += 1
                continue
            }
            if !line.drop(while: { $0 == " " || $0 == "\t" }).hasPrefix("#") {  // a comment line ('#' alone separates categories)
                for token in ProteinStructure.tokens(line) { tokens.append((String(token), index + 1)) }
            }
            index += 1
        }
        var position = 0
        while position < tokens.count {
            let (token, line) = tokens[position]
            if token.hasPrefix("data_") { position += 1; continue }
            if token == "loop_" {
                var names: [String] = []
                position += 1
                while position < tokens.count, tokens[position].0.hasPrefix("_") { names.append(tokens[position].0); position += 1 }
                var values: [String] = []
                while position < tokens.count, !tokens[position].0.hasPrefix("_"), tokens[position].0 != "loop_",
                      !tokens[position].0.hasPrefix("data_") {
                    values.append(tokens[position].0)
                    position += 1
                }
                guard !names.isEmpty, values.count % names.count == 0 else {
                    throw FileError(file: file, line: line, message: "a loop of \(names.count) items holds \(values.count) values, not a multiple")
                }
                for (column, name) in names.enumerated() {
                    items[name] = stride(from: column, to: values.count, by: names.count).map { values[$0] }
                }
                continue
            }
            guard token.hasPrefix("_"), position + 1 < tokens.count else {
                throw FileError(file: file, line: line, message: "expected an item name '_category.item' and its value, found '\(token)'")
            }
            items[token] = [tokens[position + 1].0]
            position += 2
        }
    }

    /// The rows of a loop (or the single row of plain items) under `category.`, as item → value.
    public func rows(_ category: String) -> [[String: String]] {
        let names = items.keys.filter { $0.hasPrefix(category + ".") }
        let count = names.map { items[$0]!.count }.max() ?? 0
        return (0..<count).map { row in
            Dictionary(uniqueKeysWithValues: names.map { (String($0.dropFirst(category.count + 1)), items[$0]![row]) })
        }
    }

    /// The column `category.item`, or an error naming the file and what is missing.
    public func column(_ name: String) throws -> [String] {
        guard let values = items[name] else { throw FileError(file: file, line: 0, message: "no \(name) in the mmCIF") }
        return values
    }
}

/// One PDB entry as the template featurizer reads it.
public struct TemplateStructure: Sendable {
    public let file: String
    public let id: String
    /// `YYYY-MM-DD`, the first release (nil when the file has no revision history).
    public let releaseDate: String?
    /// Author chain id → SEQRES in one-letter codes (X for unknown monomers).
    public var chainSequences: [String: String]
    /// Author chain id → per SEQRES position, the residue's atoms (atom name → position, Å) or
    /// nil when the residue is not modelled; plus its residue name.
    var residues: [String: [(name: String, atoms: [String: SIMD3<Float>])?]]

    public static func read(_ path: String, id: String) throws -> TemplateStructure {
        try TemplateStructure(CIFBlock(AlignmentParsers.text(of: path), file: path), id: id)
    }

    public init(_ block: CIFBlock, id: String) throws {
        file = block.file
        self.id = id
        releaseDate = block.items["_pdbx_audit_revision_history.revision_date"]?.min()
        // Protein chains: entities with any monomer whose chem_comp type mentions "peptide".
        var chemicalTypes: [String: String] = [:]
        for row in block.rows("_chem_comp") { if let id = row["id"], let type = row["type"] { chemicalTypes[id] = type.lowercased() } }
        var parents: [String: String] = [:]
        for row in block.rows("_pdbx_struct_mod_residue") {
            if let name = row["label_comp_id"], let parent = row["parent_comp_id"] { parents[name] = parent }
        }
        var monomers: [String: [(number: Int, name: String)]] = [:], entityOrder: [String] = []
        for row in block.rows("_entity_poly_seq") {
            guard let entity = row["entity_id"], let name = row["mon_id"], let number = row["num"].flatMap({ Int($0) }) else {
                throw FileError(file: file, line: 0, message: "an _entity_poly_seq row lacks entity_id, num or mon_id")
            }
            if monomers[entity] == nil { entityOrder.append(entity) }
            monomers[entity, default: []].append((number, name))
        }
        var proteinChains: [String: [(number: Int, name: String)]] = [:]  // label asym id → monomers
        for row in block.rows("_struct_asym") {
            guard let chain = row["id"], let entity = row["entity_id"], let sequence = monomers[entity] else { continue }
            if sequence.contains(where: { chemicalTypes[$0.name]?.contains("peptide") ?? false }) { proteinChains[chain] = sequence }
        }
        // atom_site rows of model 1 map each label chain to its author chain and each SEQRES
        // position (label_seq_id − the chain's first num) to an author residue.
        let site = Dictionary(uniqueKeysWithValues: ["label_comp_id", "auth_asym_id", "label_asym_id", "auth_seq_id", "label_seq_id",
                                                     "pdbx_PDB_ins_code", "group_PDB", "pdbx_PDB_model_num", "label_atom_id",
                                                     "label_alt_id", "occupancy", "Cartn_x", "Cartn_y", "Cartn_z"].map {
            ($0, block.items["_atom_site." + $0] ?? [])
        })
        let atomCount = site["Cartn_x"]!.count
        for (name, values) in site where values.count != atomCount && !(name == "occupancy" || name == "label_alt_id" || name == "pdbx_PDB_ins_code") {
            throw FileError(file: file, line: 0, message: "_atom_site.\(name) has \(values.count) values; Cartn_x has \(atomCount)")
        }
        struct ResidueKey: Hashable { var chain: String, hetero: String, number: String, insertion: String }
        var authorChain: [String: String] = [:]
        var positions: [String: [Int: ResidueKey]] = [:]  // author chain → SEQRES index → residue
        var residueAtoms: [ResidueKey: (name: String, atoms: [String: (SIMD3<Float>, Double)])] = [:]
        let firstNumber = proteinChains.mapValues { $0.map(\.number).min() ?? 1 }
        for a in 0..<atomCount where site["pdbx_PDB_model_num"]!.isEmpty || site["pdbx_PDB_model_num"]![a] == "1" {
            let labelChain = site["label_asym_id"]![a], chain = site["auth_asym_id"]![a], residueName = site["label_comp_id"]![a]
            authorChain[labelChain] = chain
            let insertion = site["pdbx_PDB_ins_code"]!.isEmpty ? "?" : site["pdbx_PDB_ins_code"]![a]
            let hetero = site["group_PDB"]![a] == "HETATM" ? (["HOH", "WAT"].contains(residueName) ? "W" : "H_" + residueName) : " "
            let key = ResidueKey(chain: chain, hetero: hetero, number: site["auth_seq_id"]![a], insertion: [".", "?"].contains(insertion) ? " " : insertion)
            if let first = firstNumber[labelChain] {
                guard let number = Int(site["label_seq_id"]![a]) else {
                    throw FileError(file: file, line: 0, message: "atom \(a + 1) of protein chain \(labelChain) has label_seq_id '\(site["label_seq_id"]![a])'")
                }
                positions[chain, default: [:]][number - first] = key
            }
            guard let x = Float(site["Cartn_x"]![a]), let y = Float(site["Cartn_y"]![a]), let z = Float(site["Cartn_z"]![a]) else {
                throw FileError(file: file, line: 0, message: "atom \(a + 1) has non-numeric coordinates")
            }
            let atom = site["label_atom_id"]![a]
            let occupancy = site["occupancy"]!.isEmpty ? 1 : Double(site["occupancy"]![a]) ?? 1
            var residue = residueAtoms[key] ?? (residueName, [:])
            if let existing = residue.atoms[atom] {
                let alternate = site["label_alt_id"]!.isEmpty ? "." : site["label_alt_id"]![a]
                if alternate != "." && alternate != "?" && occupancy > existing.1 { residue.atoms[atom] = (SIMD3(x, y, z), occupancy) }
            } else {
                residue.atoms[atom] = (SIMD3(x, y, z), occupancy)
            }
            residueAtoms[key] = residue
        }
        chainSequences = [:]
        residues = [:]
        for (labelChain, sequence) in proteinChains {
            guard let chain = authorChain[labelChain] else { continue }  // upstream fails on a chain without atoms; it has no template
            chainSequences[chain] = String(sequence.map { monomer -> Character in
                Self.oneLetter[monomer.name] ?? parents[monomer.name].flatMap { Self.oneLetter[$0] } ?? "X"
            })
            let mapping = positions[chain] ?? [:]
            residues[chain] = sequence.indices.map { index in
                mapping[index].flatMap { key in residueAtoms[key].map { ($0.name, $0.atoms.mapValues(\.0)) } }
            }
        }
    }

    /// One-letter codes of the 20 amino acids and of the residues upstream reads as one of them
    /// most often (selenomethionine, selenocysteine U, pyrrolysine O).
    static let oneLetter: [String: Character] = {
        var table: [String: Character] = [:]
        for (name, letter) in zip(ResidueConstants.threeLetter, ResidueAlphabet.restypes) { table[name] = letter }
        table["MSE"] = "M"
        table["SEC"] = "U"
        table["PYL"] = "O"
        table["UNK"] = "X"
        return table
    }()

    private func length(_ v: SIMD3<Float>) -> Float { (v * v).sum().squareRoot() }

    /// atom37 positions and mask of every SEQRES residue of `chain` (`[L][37]`), centred on the
    /// mean of the present atoms when `centred` (OpenFold's template default).
    public func atom37(chain: String, centred: Bool) throws -> (positions: [[SIMD3<Float>]], mask: [[Float]]) {
        guard let chainResidues = residues[chain] else {
            throw FileError(file: file, line: 0, message: "no protein chain '\(chain)' (chains: \(residues.keys.sorted().joined(separator: ", ")))")
        }
        let order = Dictionary(uniqueKeysWithValues: ResidueConstants.atomTypes.enumerated().map { ($1, $0) })
        var positions = Array(repeating: Array(repeating: SIMD3<Float>.zero, count: 37), count: chainResidues.count)
        var mask = Array(repeating: Array(repeating: Float(0), count: 37), count: chainResidues.count)
        for (index, residue) in chainResidues.enumerated() {
            guard let residue else { continue }
            for (name, position) in residue.atoms {
                if let slot = order[name] {
                    (positions[index][slot], mask[index][slot]) = (position, 1)
                } else if name.uppercased() == "SE" && residue.name == "MSE", let slot = order["SD"] {
                    (positions[index][slot], mask[index][slot]) = (position, 1)
                }
            }
            if residue.name == "ARG", let cd = order["CD"], let nh1 = order["NH1"], let nh2 = order["NH2"],
               mask[index][cd] == 1, mask[index][nh1] == 1, mask[index][nh2] == 1,
               length(positions[index][nh1] - positions[index][cd]) > length(positions[index][nh2] - positions[index][cd]) {
                positions[index].swapAt(nh1, nh2)
            }
        }
        if centred {
            var sum = SIMD3<Double>.zero, count = 0.0
            for (row, rowMask) in zip(positions, mask) {
                for (p, m) in zip(row, rowMask) where m == 1 { sum += SIMD3<Double>(p); count += 1 }
            }
            if count > 0 {
                let centre = SIMD3<Float>(sum / count)
                for i in positions.indices { for j in 0..<37 where mask[i][j] == 1 { positions[i][j] -= centre } }
            }
        }
        return (positions, mask)
    }
}
