// Neighbour lists against ASE's `neighbor_list` (committed fixture, Fixtures/make_ase_neighbour_lists.py)
// and against a reference twin that tries every image in a generous shift range.
import Foundation
import Testing
import TestSupport
import TensorCore
@testable import Graphs

struct PairKey: Hashable, Comparable, CustomStringConvertible {
    let i: Int, j: Int, s: [Int]
    static func < (a: PairKey, b: PairKey) -> Bool { (a.i, a.j, a.s[0], a.s[1], a.s[2]) < (b.i, b.j, b.s[0], b.s[1], b.s[2]) }
    var description: String { "(\(i), \(j), \(s))" }
}

func keys(_ pairs: NeighbourPairs) -> [PairKey] {
    (0..<pairs.count).map { PairKey(i: pairs.first[$0], j: pairs.second[$0], s: [pairs.shifts[$0].x, pairs.shifts[$0].y, pairs.shifts[$0].z]) }
}

/// The reference twin: every atom pair and every shift with |S_k| ≤ reach_k, where reach_k bounds
/// the images any pair can need (|f_j − f_i| < span_k of the unwrapped fractional coordinates).
func referencePairs(positions: [SIMD3<Double>], cutoff: Double, cell: PeriodicCell) -> [PairKey: Double] {
    let frame = cell.isPeriodic ? cell.completed : [SIMD3(1, 0, 0), SIMD3(0, 1, 0), SIMD3(0, 0, 1)]
    let inverse = BinGrid.inverse(frame)
    let fractions = positions.map { r in (0..<3).map { k in r.x * inverse[0][k] + r.y * inverse[1][k] + r.z * inverse[2][k] } }
    let volume = abs(determinant(frame))
    var reach = [0, 0, 0]
    for k in 0..<3 where cell.pbc[k] {
        let face = volume / length(cross(frame[(k + 1) % 3], frame[(k + 2) % 3]))
        let values = fractions.map { $0[k] }
        reach[k] = Int((cutoff / face).rounded(.up)) + Int((values.max()! - values.min()!).rounded(.up)) + 1
    }
    var result: [PairKey: Double] = [:]
    for i in positions.indices {
        for j in positions.indices {
            for a in -reach[0]...reach[0] {
                for b in -reach[1]...reach[1] {
                    for c in -reach[2]...reach[2] {
                        if i == j && a == 0 && b == 0 && c == 0 { continue }
                        let image = Double(a) * cell.vectors[0] + Double(b) * cell.vectors[1] + Double(c) * cell.vectors[2]
                        let d = length(positions[j] - positions[i] + image)
                        if d < cutoff { result[PairKey(i: i, j: j, s: [a, b, c])] = d }
                    }
                }
            }
        }
    }
    return result
}

struct ASESystem: Decodable {
    let name: String
    let cutoff: Double
    let positions: [[Double]]
    let cell: [[Double]]
    let pbc: [Bool]
    let i: [Int]
    let j: [Int]
    let S: [[Int]]
    let d: [Double]
}

struct ASEFixture: Decodable {
    let ase_version: String
    let systems: [ASESystem]
}

@Suite("Neighbour lists")
struct NeighbourListTests {
    static let fixture: ASEFixture = {
        let url = Fixtures.packageRoot.appendingPathComponent("Tests/GraphsTests/Fixtures/ase_neighbour_lists.json")
        return try! JSONDecoder().decode(ASEFixture.self, from: Data(contentsOf: url))
    }()

    @Test("same pairs, shifts and distances as ASE's neighbor_list", arguments: [NeighbourList.Strategy.allPairs, .cellList])
    func matchesASE(strategy: NeighbourList.Strategy) throws {
        #expect(Self.fixture.systems.count == 8)
        for system in Self.fixture.systems {
            let positions = system.positions.map { SIMD3($0[0], $0[1], $0[2]) }
            let cell = try PeriodicCell(vectors: system.cell.map { SIMD3($0[0], $0[1], $0[2]) }, pbc: system.pbc)
            let pairs = try NeighbourList.build(positions: positions, cutoff: system.cutoff, cell: cell, strategy: strategy)
            var expected: [PairKey: Double] = [:]
            for e in system.i.indices { expected[PairKey(i: system.i[e], j: system.j[e], s: system.S[e])] = system.d[e] }
            #expect(expected.count == system.i.count, "\(system.name): ASE listed a pair twice")
            let found = keys(pairs)
            let missing = Array(Set(expected.keys).subtracting(found).sorted().prefix(3))
            let extra = Array(Set(found).subtracting(expected.keys).sorted().prefix(3))
            let summary = "\(system.name) \(String(describing: strategy)): \(found.count) pairs vs ASE's \(expected.count); missing \(missing), extra \(extra)"
            #expect(Set(found) == Set(expected.keys), "\(summary)")
            #expect(found == found.sorted(), "\(system.name): pairs not in (i, j, S) order")
            var worst = 0.0
            for (e, key) in found.enumerated() {
                guard let d = expected[key] else { continue }
                worst = max(worst, abs(pairs.distances[e] - d) / d)
                let vector = pairs.vectors[e]
                worst = max(worst, abs(length(vector) - pairs.distances[e]) / d)
            }
            #expect(worst < 1e-12, "\(system.name): distances differ from ASE's by \(worst) relative")
        }
    }

    @Test("cells smaller than twice the cutoff list several images, and self-images")
    func smallCellImages() throws {
        let system = Self.fixture.systems.first { $0.name.hasPrefix("skewed small cell") }!
        let cell = try PeriodicCell(vectors: system.cell.map { SIMD3($0[0], $0[1], $0[2]) }, pbc: system.pbc)
        let pairs = try NeighbourList.build(positions: system.positions.map { SIMD3($0[0], $0[1], $0[2]) }, cutoff: system.cutoff, cell: cell)
        let images = Dictionary(grouping: keys(pairs), by: { [$0.i, $0.j] })
        #expect((images[[0, 1]]?.count ?? 0) > 1, "several images of neighbour 1 around atom 0")
        #expect((images[[0, 0]]?.count ?? 0) > 0, "atom 0 neighbours its own images")

        // Each unordered pair once: with its mirrors, exactly the full list (self-images included).
        let half = pairs.undirected
        let mirrored = keys(half).map { PairKey(i: $0.j, j: $0.i, s: $0.s.map { -$0 }) }
        #expect(half.count * 2 == pairs.count && Set(keys(half) + mirrored) == Set(keys(pairs)))
        #expect(keys(half).filter { $0.i == 0 && $0.j == 0 }.count * 2 == images[[0, 0]]!.count)
        #expect(half.distances == half.first.indices.map { p in pairs.distances[keys(pairs).firstIndex(of: keys(half)[p])!] })
    }

    @Test("both strategies equal the every-image reference twin on random systems")
    func referenceTwin() throws {
        var generator = RandomGenerator(seed: 31)
        func uniform(_ n: Int, _ low: Double, _ high: Double) -> [Double] { generator.uniform([n], low: low, high: high, dtype: .float64).doubles }
        for trial in 0..<6 {
            let n = [5, 40, 90][trial % 3]
            let skew = uniform(3, -0.4, 0.4)
            let vectors = [SIMD3(4.0 + Double(trial), 0, 0), SIMD3(skew[0] * 4, 3.5 + Double(trial) * 0.7, 0), SIMD3(skew[1] * 4, skew[2] * 4, 5.0)]
            let pbc = [[true, true, true], [true, false, true], [false, false, false]][trial % 3]
            let cell = try PeriodicCell(vectors: vectors, pbc: pbc)
            let f = uniform(3 * n, -0.3, 1.3)
            let positions = (0..<n).map { a -> SIMD3<Double> in
                let along: SIMD3<Double> = f[3 * a] * vectors[0] + f[3 * a + 1] * vectors[1]
                return along + f[3 * a + 2] * vectors[2]
            }
            let cutoff = [3.0, 4.5, 6.5][trial % 3]
            let expected = referencePairs(positions: positions, cutoff: cutoff, cell: cell)
            for strategy in [NeighbourList.Strategy.allPairs, .cellList, .automatic] {
                let pairs = try NeighbourList.build(positions: positions, cutoff: cutoff, cell: cell, strategy: strategy)
                #expect(Set(keys(pairs)) == Set(expected.keys) && pairs.count == expected.count,
                        "trial \(trial) \(String(describing: strategy)): \(pairs.count) pairs vs the reference's \(expected.count)")
            }
        }
    }

    @Test("Verlet list: the same pairs as a fresh search at every step, far fewer searches")
    func verletSkin() throws {
        var generator = RandomGenerator(seed: 5)
        let cell = try PeriodicCell.box(9, 9.5, 10)
        let start = generator.uniform([60, 3], low: 0, high: 9, dtype: .float64).doubles
        var positions = (0..<60).map { SIMD3(start[3 * $0], start[3 * $0 + 1], start[3 * $0 + 2]) }
        var verlet = VerletList(cutoff: 3.5, skin: 0.6)
        for step in 0..<60 {
            let kick = generator.normal([60, 3], std: 0.03, dtype: .float64).doubles
            for a in positions.indices { positions[a] += SIMD3(kick[3 * a], kick[3 * a + 1], kick[3 * a + 2]) }
            let listed = try verlet.update(positions: positions, cell: cell)
            let fresh = try NeighbourList.build(positions: positions, cutoff: 3.5, cell: cell)
            #expect(keys(listed) == keys(fresh), "step \(step): the Verlet list differs from a fresh search")
        }
        #expect(verlet.rebuilds > 1 && verlet.rebuilds < 30, "\(verlet.rebuilds) searches in 60 steps")
    }

    @Test("bad input: clear errors, and too many neighbours is an error, never a truncation")
    func errors() throws {
        let two = [SIMD3<Double>(0, 0, 0), SIMD3(1, 0, 0)]
        #expect(throws: NeighbourListError.invalidInput("cutoff must be a positive number of Å, got 0.0")) {
            try NeighbourList.build(positions: two, cutoff: 0)
        }
        #expect(throws: NeighbourListError.invalidInput("atom 1 has a non-finite position SIMD3<Double>(nan, 0.0, 0.0)")) {
            try NeighbourList.build(positions: [.zero, SIMD3(.nan, 0, 0)], cutoff: 2)
        }
        #expect(throws: NeighbourListError.invalidCell("axis 1 is periodic but its cell vector is zero")) {
            try PeriodicCell(vectors: [SIMD3(3, 0, 0), .zero, SIMD3(0, 0, 3)], pbc: [true, true, true])
        }
        #expect(throws: (any Error).self) {
            try PeriodicCell(vectors: [SIMD3(3, 0, 0), SIMD3(6, 0, 0), SIMD3(0, 0, 3)], pbc: [true, true, true])
        }
        let crowd = (0..<6).map { SIMD3(Double($0) * 0.5, 0, 0) }
        #expect(throws: NeighbourListError.tooManyNeighbours(atom: 0, count: 5, limit: 4)) {
            try NeighbourList.build(positions: crowd, cutoff: 3, maxNeighbours: 4)
        }
        let error = NeighbourListError.tooManyNeighbours(atom: 2, count: 5, limit: 4)
        #expect(error.description.contains("never dropped silently"))
    }
}
