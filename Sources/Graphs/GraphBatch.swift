// Graph batches in the two layouts the zoo's models use:
// packed (PyG's `Batch`: nodes of all graphs concatenated, a graph id per node, edge indices
// offset into the concatenation) for message passing, and padded (`[G, Nmax, *]` with a mask,
// as Graphormer's collator) for attention over all node pairs. Conversions between them are
// differentiable both ways.
import TensorCore

/// One graph's connectivity: `nodeCount` nodes and directed edges source → target.
public struct GraphTopology: Sendable, Equatable {
    public let nodeCount: Int
    public let sources: [Int]
    public let targets: [Int]

    /// Checks every edge end lies in `0..<nodeCount`.
    public init(nodeCount: Int, sources: [Int], targets: [Int]) throws(GraphError) {
        guard nodeCount >= 0 else { throw GraphError.invalidGraph("node count \(nodeCount) is negative") }
        guard sources.count == targets.count else {
            throw GraphError.invalidGraph("\(sources.count) edge sources but \(targets.count) edge targets")
        }
        for (edge, (source, target)) in zip(sources, targets).enumerated()
        where !(0..<nodeCount).contains(source) || !(0..<nodeCount).contains(target) {
            throw GraphError.invalidGraph("edge \(edge) (\(source) → \(target)) leaves the graph's \(nodeCount) nodes")
        }
        self.nodeCount = nodeCount
        self.sources = sources
        self.targets = targets
    }

    public var edgeCount: Int { sources.count }
}

/// A malformed graph, named by what is wrong.
public enum GraphError: Error, Equatable, CustomStringConvertible {
    case invalidGraph(String)
    public var description: String {
        switch self { case .invalidGraph(let message): "graph: \(message)" }
    }
}

/// Several graphs batched together, G graphs with ΣN nodes and ΣE edges.
public struct GraphBatch: Sendable {
    /// Nodes and edges per graph, `[G]`.
    public let nodeCounts: [Int]
    public let edgeCounts: [Int]
    /// First node and first edge of each graph in the packed layout, `[G + 1]` (PyG's `ptr`).
    public let nodeOffsets: [Int]
    public let edgeOffsets: [Int]
    /// The graph of each node, `[ΣN]` int64 (PyG's `batch`).
    public let nodeGraph: Tensor
    /// Edge ends as packed node indices, `[ΣE]` int64 each.
    public let edgeSources: Tensor
    public let edgeTargets: Tensor
    /// Nodes of the largest graph: the padded layout's Nmax.
    public let maxNodes: Int
    /// Row of each packed node in the flattened padded layout `[G · Nmax]`, `[ΣN]` int64.
    let paddedRows: Tensor

    public init(_ graphs: [GraphTopology]) {
        nodeCounts = graphs.map(\.nodeCount)
        edgeCounts = graphs.map(\.edgeCount)
        var nodeOffsets = [0], edgeOffsets = [0]
        for graph in graphs {
            nodeOffsets.append(nodeOffsets.last! + graph.nodeCount)
            edgeOffsets.append(edgeOffsets.last! + graph.edgeCount)
        }
        self.nodeOffsets = nodeOffsets
        self.edgeOffsets = edgeOffsets
        maxNodes = nodeCounts.max() ?? 0
        var owner: [Int64] = [], rows: [Int64] = [], sources: [Int64] = [], targets: [Int64] = []
        for (g, graph) in graphs.enumerated() {
            for node in 0..<graph.nodeCount {
                owner.append(Int64(g))
                rows.append(Int64(g * maxNodes + node))
            }
            sources += graph.sources.map { Int64($0 + nodeOffsets[g]) }
            targets += graph.targets.map { Int64($0 + nodeOffsets[g]) }
        }
        nodeGraph = Tensor(owner, shape: [owner.count])
        paddedRows = Tensor(rows, shape: [rows.count])
        edgeSources = Tensor(sources, shape: [sources.count])
        edgeTargets = Tensor(targets, shape: [targets.count])
    }

    public var graphCount: Int { nodeCounts.count }
    public var totalNodes: Int { nodeOffsets.last! }
    public var totalEdges: Int { edgeOffsets.last! }

    /// Packed node values `[ΣN, *]` → padded `[G, Nmax, *]`, zeros in the padding.
    public func padded(_ nodeValues: Tensor) -> Tensor {
        precondition(nodeValues.rank >= 1 && nodeValues.shape[0] == totalNodes,
                     "padded: node values \(nodeValues.shape) must have \(totalNodes) rows")
        let trailing = Array(nodeValues.shape.dropFirst())
        return Tensor.zeros([graphCount * maxNodes] + trailing, dtype: nodeValues.dtype)
            .indexAdd(axis: 0, paddedRows, nodeValues)
            .reshaped([graphCount, maxNodes] + trailing)
    }

    /// Padded node values `[G, Nmax, *]` → packed `[ΣN, *]` (the padding is dropped).
    public func packed(_ paddedValues: Tensor) -> Tensor {
        precondition(paddedValues.rank >= 2 && Array(paddedValues.shape.prefix(2)) == [graphCount, maxNodes],
                     "packed: padded values \(paddedValues.shape) must be [\(graphCount), \(maxNodes), *]")
        let trailing = Array(paddedValues.shape.dropFirst(2))
        return paddedValues.reshaped([graphCount * maxNodes] + trailing).indexSelect(axis: 0, paddedRows)
    }

    /// True for real nodes, false for padding: `[G, Nmax]` bool.
    public var nodeMask: Tensor {
        var mask = [Bool](repeating: false, count: graphCount * maxNodes)
        for (g, n) in nodeCounts.enumerated() { for node in 0..<n { mask[g * maxNodes + node] = true } }
        return Tensor(mask, shape: [graphCount, maxNodes])
    }

    /// Σ over each graph's nodes: `[ΣN, *]` → `[G, *]` (a molecule's energy from atomwise terms).
    public func sumOverGraphs(_ nodeValues: Tensor) -> Tensor { nodeValues.segmentSum(nodeGraph, count: graphCount) }

    /// Mean over each graph's nodes: `[ΣN, *]` → `[G, *]`.
    public func meanOverGraphs(_ nodeValues: Tensor) -> Tensor { nodeValues.segmentMean(nodeGraph, count: graphCount) }

    /// Messages on edges `[ΣE, *]` summed into their target nodes → `[ΣN, *]`.
    public func sumIntoTargets(_ edgeValues: Tensor) -> Tensor { edgeValues.segmentSum(edgeTargets, count: totalNodes) }
}
