import Foundation
import TensorIO
import Testing
import TestSupport
@testable import ProteinFolding

@Suite("OpenFold template search (HHR hits + mmCIF)")
struct TemplateSearchTests {
    static let folder = Fixtures.shared("openfold/2q2k_A/ground_truth").path
    static let shortQuery = Fixtures.shared("openfold/short_query")

    static func query() throws -> String {
        try AlignmentParsers.query(fastaAt: shortQuery.appendingPathComponent("short.fasta").path).sequence
    }

    static func hits() throws -> [TemplateHit] { try AlignmentParsers.hhr(at: shortQuery.appendingPathComponent("alignments/pdb70_hits.hhr").path) }

    @Test("2Q2K_A from its mmCIF equals row 7 of DeepMind's template features for short_query (positions, masks, aatype, sequence)")
    func deepMindReferenceRow() throws {
        let search = try TemplateSearch(folder: Self.folder, maxDate: "2099-12-31", maxHits: 20, centred: false)
        let result = try search.features(query: try Self.query(), hits: try Self.hits())
        let t = result.features
        #expect(t.count == 1 && t.names == ["2q2k_A"])
        // The nine other hits have no mmCIF here: each is skipped with a warning naming its file.
        #expect(result.warnings.filter { $0.contains("is not in the template folder") }.count == 9)
        let reference = try NumpyArchive(contentsOf: Self.shortQuery.appendingPathComponent("reference/alphafold_feature_dict.npz").path)
        let strings = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.shortQuery.appendingPathComponent(
            "reference/alphafold_feature_dict.strings.json"))) as! [String: Any]
        let stringFeatures = strings["string_features"] as! [String: [String]]
        #expect(stringFeatures["template_domain_names"]?[7] == "2q2k_A")
        #expect(stringFeatures["template_sequence"]?[7] == t.sequences[0])
        let n = 73
        let positions = try reference.array("template_all_atom_positions").tensor().doubles
        let masks = try reference.array("template_all_atom_masks").tensor().doubles
        let aatype = try reference.array("template_aatype").tensor().doubles
        let base = 7 * n * 37
        var worst = 0.0, maskMismatches = 0
        for i in 0..<n {
            for a in 0..<37 {
                if masks[base + i * 37 + a] != Double(t.masks[0][i][a]) { maskMismatches += 1 }
                for c in 0..<3 { worst = max(worst, abs(positions[(base + i * 37 + a) * 3 + c] - Double(t.positions[0][i][a][c]))) }
            }
        }
        #expect(maskMismatches == 0 && worst == 0, "mask mismatches \(maskMismatches), worst position difference \(worst) Å")
        #expect(t.masks[0].joined().reduce(0, +) == 123)
        let ourAatype = t.hhblitsAatype[0]
        #expect((0..<n).allSatisfy { i in aatype[(7 * n + i) * 22 + ourAatype[i]] == 1 })
        #expect(try reference.array("template_sum_probs").tensor().doubles[7] == t.sumProbabilities[0])
    }

    @Test("OpenFold centres the template on its mean atom; the cut-off date, duplicates and max hits are upstream's")
    func filters() throws {
        let query = try Self.query(), hits = try Self.hits()
        let uncentred = try TemplateSearch(folder: Self.folder, maxDate: "2099-12-31", centred: false).features(query: query, hits: hits).features
        let centred = try TemplateSearch(folder: Self.folder, maxDate: "2099-12-31").features(query: query, hits: hits).features
        // The centre is the mean over every modelled atom of the chain, not only the aligned residues.
        let chain = try TemplateStructure.read(Self.folder + "/2q2k.cif", id: "2q2k").atom37(chain: "A", centred: true)
        var sum = SIMD3<Double>.zero, count = 0.0
        for (row, mask) in zip(chain.positions, chain.mask) { for (p, m) in zip(row, mask) where m == 1 { sum += SIMD3(p); count += 1 } }
        #expect((sum / count * (sum / count)).sum().squareRoot() < 1e-4)
        let shift = uncentred.positions[0][60][1] - centred.positions[0][60][1]
        #expect(((uncentred.positions[0][61][1] - centred.positions[0][61][1] - shift) * (uncentred.positions[0][61][1] - centred.positions[0][61][1] - shift)).sum() < 1e-8)
        #expect((shift * shift).sum() > 1, "the centring moved the template")
        // 2Q2K was first released on 2008-02-05.
        let early = try TemplateSearch(folder: Self.folder, maxDate: "2008-02-04").features(query: query, hits: hits)
        #expect(early.features.count == 0 && early.warnings.contains { $0.contains("released 2008-02-05") })
        #expect(try TemplateSearch(folder: Self.folder, maxDate: "2008-02-05").features(query: query, hits: hits).features.count == 1)
        // Chain B holds the same sequence: the second hit is a duplicate template and is dropped.
        var chainB = hits.last!
        chainB.name = "2Q2K_B"
        let both = try TemplateSearch(folder: Self.folder, maxDate: "2099-12-31").features(query: query, hits: [hits.last!, chainB])
        #expect(both.features.count == 1)
        // A hit that fails the prefilter (too few aligned columns) never reaches its structure.
        var short = hits.last!
        short.alignedColumns = 7
        let prefiltered = try TemplateSearch(folder: Self.folder, maxDate: "2099-12-31").features(query: query, hits: [short])
        #expect(prefiltered.features.count == 0 && prefiltered.warnings.first?.contains("aligned ratio") == true)
    }

    @Test("a template piece that differs from the SEQRES is realigned (no kalign) to the same residues")
    func realignment() throws {
        let query = try Self.query(), hit = try Self.hits().last!
        var mutated = hit
        // One substitution in the middle of the template piece: no longer a substring of the SEQRES.
        let letters = Array(hit.hit), middle = letters.count / 2
        mutated.hit = String(letters[..<middle]) + (letters[middle] == "W" ? "Y" : "W") + String(letters[(middle + 1)...])
        let search = try TemplateSearch(folder: Self.folder, maxDate: "2099-12-31")
        let exact = try search.features(query: query, hits: [hit]), realigned = try search.features(query: query, hits: [mutated])
        #expect(realigned.warnings.contains { $0.contains("realigned") })
        #expect(realigned.features.positions == exact.features.positions && realigned.features.masks == exact.features.masks)
        #expect(realigned.features.sequences == exact.features.sequences, "the letters come from the SEQRES")
        // Far from the SEQRES (under 90 % identical): refused with a reason, no template.
        var unrelated = hit
        unrelated.hit = String(repeating: "W", count: hit.hit.count)
        let refused = try search.features(query: query, hits: [unrelated])
        #expect(refused.features.count == 0 && refused.warnings.contains { $0.contains("under 90 %") })
    }

    @Test("a malformed mmCIF loop names the file; a folder without .cif files is refused")
    func badInput() throws {
        let scratch = try Fixtures.scratchDirectory()
        #expect(throws: FileError.self) { try TemplateSearch(folder: scratch.path, maxDate: "2099-12-31") }
        #expect(throws: FileError.self) { try TemplateSearch(folder: Self.folder, maxDate: "31/12/2099") }
        let bad = "data_x\nloop_\n_atom_site.id\n_atom_site.type_symbol\n1 N\n2\n"
        let error = #expect(throws: FileError.self) { try CIFBlock(bad, file: "x.cif") }
        #expect(error?.file == "x.cif" && error?.description.contains("multiple") == true)
    }
}
