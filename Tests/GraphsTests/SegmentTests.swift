// Segment reductions and graph batches against plain loops (the reference twins), with float64
// gradient and second-derivative checks.
import Testing
import TestSupport
import TensorCore
@testable import Graphs

/// The reference twin of the segment reductions: one loop over rows per segment and element.
func referenceSegments(_ values: [Double], rows: Int, width: Int, ids: [Int], count: Int) -> (sum: [Double], mean: [Double], max: [Double]) {
    var sum = [Double](repeating: 0, count: count * width), maximum = [Double](repeating: 0, count: count * width)
    var seen = [Bool](repeating: false, count: count * width), sizes = [Int](repeating: 0, count: count)
    for row in 0..<rows {
        sizes[ids[row]] += 1
        for k in 0..<width {
            let slot = ids[row] * width + k, value = values[row * width + k]
            sum[slot] += value
            if !seen[slot] || value > maximum[slot] { maximum[slot] = value; seen[slot] = true }
        }
    }
    let mean = sum.enumerated().map { $0.element / Double(max(sizes[$0.offset / width], 1)) }
    return (sum, mean, maximum)
}

@Suite("Segment reductions and graph batches")
struct SegmentTests {
    static let ids: [Int64] = [2, 0, 2, 4, 0, 2, 1]  // segment 3 stays empty
    static var segments: Tensor { Tensor(ids, shape: [7]) }

    @Test("sum, mean and max equal the loop twin (float32 and float64, empty segment zero)", arguments: [DType.float32, .float64])
    func twins(dtype: DType) {
        var generator = RandomGenerator(seed: 3)
        let x = generator.normal([7, 2, 3], dtype: dtype)
        let reference = referenceSegments(x.doubles, rows: 7, width: 6, ids: Self.ids.map(Int.init), count: 5)
        let tolerance = Tolerance.forDType(dtype)
        #expect(x.segmentSum(Self.segments, count: 5).shape == [5, 2, 3])
        #expect(closeness(x.segmentSum(Self.segments, count: 5).doubles, reference.sum, tolerance).passed)
        #expect(closeness(x.segmentMean(Self.segments, count: 5).doubles, reference.mean, tolerance).passed)
        #expect(x.segmentMax(Self.segments, count: 5).doubles == reference.max)
    }

    @Test("segment ops: gradcheck and gradgradcheck in float64")
    func gradients() {
        var generator = RandomGenerator(seed: 4)
        let x = generator.normal([7, 3], dtype: .float64)
        let cases: [(String, (Tensor) -> Tensor)] = [
            ("sum", { $0.segmentSum(Self.segments, count: 5).square() }),
            ("mean", { $0.segmentMean(Self.segments, count: 5).square() }),
            ("max", { $0.segmentMax(Self.segments, count: 5) * $0.segmentSum(Self.segments, count: 5) }),
            // gather (indexSelect) then scatter: one message-passing step x_i ← Σ_j w(x_j)
            ("gather + scatter", { x in (x.indexSelect(axis: 0, Tensor([Int64(1), 4, 6, 0, 2], shape: [5])).tanh() * x.indexSelect(axis: 0, Tensor([Int64(0), 0, 3, 5, 5], shape: [5])))
                .segmentSum(Tensor([Int64(3), 1, 0, 3, 6], shape: [5]), count: 7) }),
        ]
        for (name, function) in cases {
            let first = gradcheck({ function($0[0]) }, inputs: [x])
            #expect(first.passed, "\(name): \(first)")
            let second = gradgradcheck({ function($0[0]) }, inputs: [x])
            #expect(second.passed, "\(name): \(second)")
        }
    }

    @Test("segment max sends the gradient to the first of tied rows only")
    func maxTies() throws {
        let x = Tensor([1.0, 5, 5, 2], shape: [4, 1]).requiringGrad()
        let out = x.segmentMax(Tensor([Int64(0), 0, 0, 1], shape: [4]), count: 2)
        #expect(out.doubles == [5, 2])
        try out.sum().backward()
        #expect(x.grad!.doubles == [0, 1, 0, 1])
    }

    static func batch() throws -> GraphBatch {
        GraphBatch([
            try GraphTopology(nodeCount: 3, sources: [0, 1, 1, 2], targets: [1, 0, 2, 1]),
            try GraphTopology(nodeCount: 1, sources: [], targets: []),
            try GraphTopology(nodeCount: 4, sources: [0, 3, 2], targets: [3, 0, 1]),
        ])
    }

    @Test("packed and padded layouts: offsets, mask and a round trip")
    func layouts() throws {
        let batch = try Self.batch()
        #expect(batch.nodeOffsets == [0, 3, 4, 8] && batch.edgeOffsets == [0, 4, 4, 7] && batch.maxNodes == 4)
        #expect(batch.nodeGraph.doubles == [0, 0, 0, 1, 2, 2, 2, 2])
        #expect(batch.edgeSources.doubles == [0, 1, 1, 2, 4, 7, 6] && batch.edgeTargets.doubles == [1, 0, 2, 1, 7, 4, 5])
        let x = Tensor((0..<16).map(Double.init), shape: [8, 2])
        let padded = batch.padded(x)
        #expect(padded.shape == [3, 4, 2])
        #expect(padded.doubles == [0, 1, 2, 3, 4, 5, 0, 0, 6, 7, 0, 0, 0, 0, 0, 0, 8, 9, 10, 11, 12, 13, 14, 15])
        #expect(batch.nodeMask.scalars(as: Bool.self) == [true, true, true, false, true, false, false, false, true, true, true, true])
        #expect(batch.packed(padded).doubles == x.doubles)
        #expect(batch.sumOverGraphs(x).doubles == [6, 9, 6, 7, 44, 48])
        #expect(batch.meanOverGraphs(x).doubles == [2, 3, 6, 7, 11, 12])
        var generator = RandomGenerator(seed: 8)
        let values = generator.normal([8, 2], dtype: .float64)
        let roundTrip = gradgradcheck({ batch.packed(batch.padded($0[0]).square()) * batch.sumIntoTargets(batch.packed(batch.padded($0[0])).indexSelect(axis: 0, batch.edgeSources)) }, inputs: [values])
        #expect(roundTrip.passed, "\(roundTrip)")
    }

    @Test("a graph whose edge leaves its nodes is refused, naming the edge")
    func badGraph() {
        #expect(throws: GraphError.invalidGraph("edge 1 (2 → 3) leaves the graph's 3 nodes")) {
            try GraphTopology(nodeCount: 3, sources: [0, 2], targets: [1, 3])
        }
        #expect(throws: GraphError.invalidGraph("2 edge sources but 1 edge targets")) {
            try GraphTopology(nodeCount: 3, sources: [0, 2], targets: [1])
        }
    }
}
