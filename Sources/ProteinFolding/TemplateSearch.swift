// HHsearch hits to template features (openfold/data/templates.py `HhsearchHitFeaturizer`): hits
// are prefiltered without reading any structure (aligned ratio > 0.1, not a ≥ 95 % copy of the
// query, ≥ 10 residues), sorted by sum_probs, and read one by one from `<pdb id>.cif` until
// `maxHits` distinct templates are found; a structure released after `maxDate` is skipped. The
// hit's template piece is found in the chain's SEQRES (same chain, then any chain, then with X as
// a wildcard); when the file holds another version of the sequence, it is realigned to the
// SEQRES — upstream runs kalign there; we align semi-globally (match +1, mismatch −1, gap −2,
// free end gaps) and keep upstream's rule that the two agree on ≥ 90 % of the shorter. Beyond
// upstream: a hit whose mmCIF is not in the folder is skipped with a warning (upstream stops
// with FileNotFoundError), so a partial PDB mirror still folds.
import Foundation
import TensorIO

/// Template features of one query, `T` templates over its `N` residues (upstream's
/// `template_*` raw features; positions in Å, float32 as upstream).
public struct TemplateFeatures: Sendable, Equatable {
    /// `pdbid_chain`, as upstream's `template_domain_names`.
    public var names: [String]
    /// The template residue aligned to each query residue, `-` where none (`template_sequence`).
    public var sequences: [String]
    public var sumProbabilities: [Double]
    /// `[T][N][37]` atom37 positions and mask.
    public var positions: [[[SIMD3<Float>]]]
    public var masks: [[[Float]]]

    public static let none = TemplateFeatures(names: [], sequences: [], sumProbabilities: [], positions: [], masks: [])

    public var count: Int { names.count }

    /// The first `limit` templates (the predict pipeline's `max_templates`).
    public func prefix(_ limit: Int) -> TemplateFeatures {
        TemplateFeatures(names: Array(names.prefix(limit)), sequences: Array(sequences.prefix(limit)),
                         sumProbabilities: Array(sumProbabilities.prefix(limit)), positions: Array(positions.prefix(limit)),
                         masks: Array(masks.prefix(limit)))
    }

    /// Residues `range` of every template (with RawFeatures.cropped).
    public func cropped(_ range: Range<Int>) -> TemplateFeatures {
        TemplateFeatures(names: names, sequences: sequences.map { String(Array($0)[range]) }, sumProbabilities: sumProbabilities,
                         positions: positions.map { Array($0[range]) }, masks: masks.map { Array($0[range]) })
    }

    /// `template_aatype` as indices in HHblits order (the raw one-hot's argmax, gap 21).
    public var hhblitsAatype: [[Int]] {
        sequences.map { $0.map { ResidueAlphabet.hhblits($0) ?? ResidueAlphabet.unknown } }
    }
}

public struct TemplateSearch {
    /// A folder of `<pdb id>.cif` files (lower-case ids, as the PDB mirror names them).
    public let folder: String
    /// Structures released after this day (`YYYY-MM-DD`) are not used.
    public var maxDate: String
    /// Distinct templates to keep (OpenFold passes the predict `max_templates`, 4).
    public var maxHits = 4
    /// Positions centred on the template's mean atom (OpenFold's default; DeepMind's keeps them).
    public var centred = true

    public init(folder: String, maxDate: String, maxHits: Int = 4, centred: Bool = true) throws {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        guard files.contains(where: { $0.hasSuffix(".cif") }) else {
            throw FileError(file: folder, line: 0, message: "no .cif files: --templates needs a folder of PDB mmCIF files named <pdb id>.cif")
        }
        guard maxDate.count == 10, Self.dayFormat(maxDate) else {
            throw FileError(file: "--max-template-date", line: 0, message: "expected YYYY-MM-DD, found '\(maxDate)'")
        }
        (self.folder, self.maxDate, self.maxHits, self.centred) = (folder, maxDate, maxHits, centred)
    }

    static func dayFormat(_ text: String) -> Bool {
        let parts = text.split(separator: "-")
        return parts.count == 3 && parts.map(\.count) == [4, 2, 2] && parts.allSatisfy { $0.allSatisfy(\.isNumber) }
    }

    /// What a search found, and why the other hits were left out.
    public struct Result {
        public var features: TemplateFeatures
        public var warnings: [String]
    }

    public func features(query: String, hits: [TemplateHit]) throws -> Result {
        var warnings: [String] = []
        var kept: [TemplateHit] = []
        for hit in hits {
            let (id, chain) = try Self.pdbIdAndChain(hit)
            if let reason = Self.prefilterFailure(hit, query: query) {
                warnings.append("hit \(hit.index) \(id)_\(chain) did not pass the prefilter: \(reason)")
            } else {
                kept.append(hit)
            }
        }
        kept = kept.enumerated().sorted { ($0.element.sumProbabilities, -$0.offset) > ($1.element.sumProbabilities, -$1.offset) }.map(\.element)
        var result = TemplateFeatures.none
        var seen = Set<String>()
        for hit in kept {
            if seen.count >= maxHits { break }
            let (id, chain) = try Self.pdbIdAndChain(hit)
            let path = (folder as NSString).appendingPathComponent(id + ".cif")
            guard FileManager.default.fileExists(atPath: path) else {
                warnings.append("hit \(hit.index) \(id)_\(chain): \(path) is not in the template folder; skipped")
                continue
            }
            let structure: TemplateStructure
            do { structure = try TemplateStructure.read(path, id: id) } catch let error as FileError {
                warnings.append("hit \(hit.index) \(id)_\(chain): \(error)")
                continue
            }
            if let released = structure.releaseDate, released > maxDate {
                warnings.append("hit \(hit.index) \(id)_\(chain): released \(released), after the template cut-off \(maxDate)")
                continue
            }
            do {
                let template = try extract(hit, structure: structure, query: query, chain: chain)
                if let warning = template.warning { warnings.append(warning) }
                guard seen.insert(template.sequence).inserted else { continue }
                result.names.append("\(id)_\(template.chain)")
                result.sequences.append(template.sequence)
                result.sumProbabilities.append(hit.sumProbabilities)
                result.positions.append(template.positions)
                result.masks.append(template.mask)
            } catch let error as FileError {
                warnings.append("hit \(hit.index) \(id)_\(chain) (sum_probs \(hit.sumProbabilities)): \(error.message)")
            }
        }
        return Result(features: result, warnings: warnings)
    }

    /// `1ABC_A …` → ("1abc", "A").
    static func pdbIdAndChain(_ hit: TemplateHit) throws -> (String, String) {
        let parts = hit.name.split(separator: "_", maxSplits: 1)
        guard parts.count == 2, parts[0].count == 4, parts[0].allSatisfy({ $0.isLetter || $0.isNumber }),
              let chain = parts[1].split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == ".") }).first, parts[1].first == chain.first else {
            throw FileError(file: "hhr", line: hit.line, message: "hit name '\(hit.name)' does not start with PDBID_chain")
        }
        return (parts[0].lowercased(), String(chain))
    }

    /// Upstream's `_assess_hhsearch_hit` (no release-date list is read: the mmCIF's date decides).
    static func prefilterFailure(_ hit: TemplateHit, query: String) -> String? {
        let templateSequence = hit.hit.filter { $0 != "-" }
        let alignRatio = Double(hit.alignedColumns) / Double(query.count)
        let lengthRatio = Double(templateSequence.count) / Double(query.count)
        if alignRatio <= 0.1 { return "aligned ratio \(alignRatio) ≤ 0.1" }
        if query.contains(templateSequence) && lengthRatio > 0.95 { return "an exact subsequence of the query covering \(lengthRatio) of it" }
        if templateSequence.count < 10 { return "template too short (\(templateSequence.count) residues)" }
        return nil
    }

    /// Query index → index in the hit's gap-free template piece (`_build_query_to_hit_index_mapping`).
    static func queryToHit(_ hit: TemplateHit, query: String) -> [Int: Int] {
        let hitQuery = String(hit.query.filter { $0 != "-" }), templatePiece = hit.hit.filter { $0 != "-" }
        guard !hitQuery.isEmpty, let offsetRange = query.range(of: hitQuery) else { return [:] }
        let offset = query.distance(from: query.startIndex, to: offsetRange.lowerBound)
        let hitMinimum = hit.hitIndices.filter { $0 > -1 }.min() ?? 0, queryMinimum = hit.queryIndices.filter { $0 > -1 }.min() ?? 0
        var mapping: [Int: Int] = [:]
        for (q, t) in zip(hit.queryIndices, hit.hitIndices) where q != -1 && t != -1 {
            let (qi, ti) = (q - queryMinimum + offset, t - hitMinimum)
            if ti >= templatePiece.count || qi >= query.count { continue }
            mapping[qi] = ti
        }
        return mapping
    }

    struct Extracted {
        var chain: String, sequence: String
        var positions: [[SIMD3<Float>]], mask: [[Float]]
        var warning: String?
    }

    /// `_extract_template_features`: the template's atoms placed at the query residues they align to.
    func extract(_ hit: TemplateHit, structure: TemplateStructure, query: String, chain: String) throws -> Extracted {
        guard !structure.chainSequences.isEmpty else { throw FileError(file: structure.file, line: 0, message: "no protein chains") }
        var mapping = Self.queryToHit(hit, query: query)
        var templateSequence = Array(hit.hit.filter { $0 != "-" })
        var warning: String?
        let found: (chain: String, offset: Int)
        if let match = Self.find(String(templateSequence), chain: chain, in: structure) {
            found = match
        } else {
            warning = "hit \(hit.index) \(structure.id)_\(chain): the sequence \(String(templateSequence)) is not in the mmCIF; realigned to the chain's SEQRES"
            let realigned = try Self.realign(String(templateSequence), chain: chain, structure: structure, mapping: mapping)
            (templateSequence, mapping, found) = (Array(realigned.sequence), realigned.mapping, (realigned.chain, 0))
        }
        let atoms = try structure.atom37(chain: found.chain, centred: centred)
        try Self.checkAlphaCarbonSpacing(atoms, file: structure.file, chain: found.chain)
        var positions = Array(repeating: Array(repeating: SIMD3<Float>.zero, count: 37), count: query.count)
        var mask = Array(repeating: Array(repeating: Float(0), count: 37), count: query.count)
        var sequence = Array(repeating: Character("-"), count: query.count)
        for (q, t) in mapping where t >= 0 {
            let index = t + found.offset
            guard index < atoms.positions.count else {
                throw FileError(file: structure.file, line: 0, message: "template residue \(index) is outside chain \(found.chain)'s \(atoms.positions.count) residues")
            }
            (positions[q], mask[q], sequence[q]) = (atoms.positions[index], atoms.mask[index], templateSequence[t])
        }
        guard mask.joined().reduce(0, +) >= 5 else {
            throw FileError(file: structure.file, line: 0, message: "the aligned residues of chain \(found.chain) have no atoms")
        }
        return Extracted(chain: found.chain, sequence: String(sequence), positions: positions, mask: mask, warning: warning)
    }

    /// `_find_template_in_pdb`: the chain holding the piece and where it starts.
    static func find(_ piece: String, chain: String, in structure: TemplateStructure) -> (chain: String, offset: Int)? {
        func offset(_ piece: String, in sequence: String) -> Int? {
            sequence.range(of: piece).map { sequence.distance(from: sequence.startIndex, to: $0.lowerBound) }
        }
        if let sequence = structure.chainSequences[chain], let at = offset(piece, in: sequence) { return (chain, at) }
        let chains = structure.chainSequences.keys.sorted()
        for id in chains { if let at = offset(piece, in: structure.chainSequences[id]!) { return (id, at) } }
        let pattern = Array(piece)
        for id in chains {
            let sequence = Array(structure.chainSequences[id]!)
            guard sequence.count >= pattern.count else { continue }
            for start in 0...(sequence.count - pattern.count)
            where zip(pattern, sequence[start...]).allSatisfy({ $0 == "X" || $0 == $1 || $1 == "X" }) { return (id, start) }
        }
        return nil
    }

    /// `_realign_pdb_template_to_query` without kalign (see the file comment).
    static func realign(_ old: String, chain: String, structure: TemplateStructure, mapping: [Int: Int]) throws
        -> (sequence: String, mapping: [Int: Int], chain: String) {
        var id = chain
        if structure.chainSequences[chain] == nil {
            guard structure.chainSequences.count == 1 else {
                throw FileError(file: structure.file, line: 0, message: "no protein chain \(chain) to realign the hit to")
            }
            id = structure.chainSequences.keys.first!
        }
        let new = Array(structure.chainSequences[id]!), oldLetters = Array(old)
        let pairs = semiGlobalAlignment(oldLetters, new)
        var oldToNew: [Int: Int] = [:], same = 0
        for (i, j) in pairs {
            oldToNew[i] = j
            if oldLetters[i] == new[j] { same += 1 }
        }
        guard Double(same) / Double(Swift.min(oldLetters.count, new.count)) >= 0.9 else {
            throw FileError(file: structure.file, line: 0, message: "the hit's template \(old) agrees with chain \(id)'s SEQRES on \(same) residues, under 90 %")
        }
        return (String(new), mapping.mapValues { oldToNew[$0] ?? -1 }, id)
    }

    /// The aligned (i, j) pairs of the best alignment of a to b with free end gaps.
    static func semiGlobalAlignment(_ a: [Character], _ b: [Character]) -> [(Int, Int)] {
        let (n, m) = (a.count, b.count), gap = -2
        var score = Array(repeating: Array(repeating: 0, count: m + 1), count: n + 1)
        for i in 1...Swift.max(1, n) where i <= n {
            for j in 1...Swift.max(1, m) where j <= m {
                let diagonal = score[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 1 : -1)
                // Leading and trailing gaps in either sequence are free.
                let up = score[i - 1][j] + (j == m ? 0 : gap), left = score[i][j - 1] + (i == n ? 0 : gap)
                score[i][j] = Swift.max(diagonal, up, left)
            }
        }
        var pairs: [(Int, Int)] = []
        var (i, j) = (n, m)
        while i > 0 && j > 0 {
            if score[i][j] == score[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 1 : -1) {
                pairs.append((i - 1, j - 1)); i -= 1; j -= 1
            } else if score[i][j] == score[i - 1][j] + (j == m ? 0 : gap) {
                i -= 1
            } else {
                j -= 1
            }
        }
        return pairs.reversed()
    }

    /// Upstream rejects a template whose consecutive modelled Cα atoms lie over 150 Å apart.
    static func checkAlphaCarbonSpacing(_ atoms: (positions: [[SIMD3<Float>]], mask: [[Float]]), file: String, chain: String) throws {
        var previous: SIMD3<Float>?
        for (index, (row, rowMask)) in zip(atoms.positions, atoms.mask).enumerated() {
            guard rowMask[1] == 1 else { previous = nil; continue }
            if let previous {
                let d = row[1] - previous
                if (d * d).sum().squareRoot() > 150 {
                    throw FileError(file: file, line: 0, message: "chain \(chain): Cα \(index - 1)–\(index) distance over 150 Å")
                }
            }
            previous = row[1]
        }
    }
}
