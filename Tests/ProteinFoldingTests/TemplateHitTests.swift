import Foundation
import TensorIO
import Testing
import TestSupport
@testable import ProteinFolding

@Suite("HHR template hits")
struct TemplateHitTests {
    static let hhr = Fixtures.shared("openfold/short_query/alignments/pdb70_hits.hhr").path

    @Test("the fixture's 10 hits: names, aligned columns, sum_probs, aligned strings and 0-based indices")
    func fixture() throws {
        let hits = try AlignmentParsers.hhr(at: Self.hhr)
        #expect(hits.count == 10)
        #expect(hits.map(\.name).prefix(3) == ["1HF9_B", "2CRB_A", "4ZEY_A"] && hits.last?.name == "2Q2K_A")
        let first = hits[0]
        #expect(first.index == 1 && first.alignedColumns == 22 && abs(first.sumProbabilities - 13.1) < 1e-12)
        #expect(first.query == "AEHHHKAAEHHEQAAKHHHAAA" && first.hit == "ISHHAKEIERLQKEIERHKQSI")
        #expect(first.queryIndices == Array(6...27) && first.hitIndices == Array(9...30))
        #expect(hits.allSatisfy { $0.query.count == $0.hit.count && $0.queryIndices.count == $0.query.count })
        #expect(hits.last!.queryIndices.first == 55 && hits.last!.hitIndices.last == 69)
    }

    @Test("a hit without Sum_probs, or a Q line whose span disagrees with its residues, fails naming file and line")
    func malformed() throws {
        let text = try String(contentsOfFile: Self.hhr, encoding: .utf8)
        let noSum = text.replacingOccurrences(of: "Sum_probs=13.1", with: "")
        let error = #expect(throws: FileError.self) { try AlignmentParsers.hhr(noSum, file: "hits.hhr") }
        #expect(error?.file == "hits.hhr" && error?.line == 23 && error?.description.contains("Sum_probs") == true)
        let badSpan = text.replacingOccurrences(of: "AEHHHKAAEHHEQAAKHHHAAA   28 (73)", with: "AEHHHKAAEHHEQAAKHHHAAA   29 (73)")
        let spanError = #expect(throws: FileError.self) { try AlignmentParsers.hhr(badSpan, file: "hits.hhr") }
        #expect(spanError?.line == 25)
    }
}
