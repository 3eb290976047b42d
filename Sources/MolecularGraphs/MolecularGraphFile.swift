// Molecular graphs on disk, in OGB's array layout so any tool can check them:
//
//   /            attrs format = "scizoo-molgraphs", version = 1, source, featurisation
//   /num_nodes   [M]        int64
//   /num_edges   [M]        int64   directed edges (2 per bond)
//   /record      [M]        int64   input line (SMILES, CSV) or record (SDF), 1-based
//   /node_feat   [ΣN, 9]    int64   molecules one after another
//   /edge_index  [2, ΣE]    int64   indices local to each molecule, as OGB's saved datasets
//   /edge_feat   [ΣE, 3]    int64
//
// Reading also takes OGB's own arrays from an .npz (as `ogb.io.DatasetSaver` writes them, with
// `num_nodes_list` / `num_edges_list`) or an HDF5 file with the same names, and checks every index
// and feature against OGB's vocabularies, naming the array and the row that is wrong.
import Foundation
import TensorIO

public struct MolecularGraphFileError: Error, CustomStringConvertible, Sendable {
    public var file: String
    public var message: String
    public var description: String { "\(file): \(message)".escapingControlCharacters }
}

public struct MolecularGraphDataset: Sendable {
    public static let format = "scizoo-molgraphs"
    public static let version: Int64 = 1

    public var graphs: [MolecularGraph]
    /// Input line or record of each graph (1-based); nil for arrays that did not record it.
    public var records: [Int]?

    public init(graphs: [MolecularGraph], records: [Int]?) {
        self.graphs = graphs
        self.records = records
    }

    /// Writes through a temporary name, so a killed write never leaves a partial file at `path`.
    public func write(to path: String, source: String) throws {
        var nodeFeatures: [Int64] = [], edgeFeatures: [Int64] = [], sources: [Int64] = [], targets: [Int64] = []
        for graph in graphs {
            nodeFeatures += graph.nodeFeatures.map(Int64.init)
            edgeFeatures += graph.edgeFeatures.map(Int64.init)
            let e = graph.edgeCount
            sources += graph.edgeIndex[0..<e].map(Int64.init)
            targets += graph.edgeIndex[e..<(2 * e)].map(Int64.init)
        }
        let totalNodes = graphs.reduce(0) { $0 + $1.nodeCount }, totalEdges = sources.count
        try HDF5File.writeAtomically(to: path) { file in
            let root = try file.root
            try root.setAttribute("format", .string(Self.format))
            try root.setAttribute("version", .int(Self.version))
            try root.setAttribute("source", .string(source))
            try root.setAttribute("featurisation", .string("ogb.utils.smiles2graph (ogb 1.3.6) with RDKit 2026.09's perception rules"))
            // Empty arrays (no bonds anywhere) cannot be chunked: those are written contiguous.
            func options(_ count: Int) -> HDF5DatasetOptions { count > 0 ? .compressed() : HDF5DatasetOptions() }
            try root.write("num_nodes", graphs.map { Int64($0.nodeCount) }, options: options(graphs.count))
            try root.write("num_edges", graphs.map { Int64($0.edgeCount) }, options: options(graphs.count))
            try root.write("record", (records ?? Array(0..<graphs.count).map { $0 + 1 }).map(Int64.init), options: options(graphs.count))
            try root.write("node_feat", nodeFeatures, shape: [totalNodes, MolecularGraph.atomFeatureCount], options: options(totalNodes))
            try root.write("edge_index", sources + targets, shape: [2, totalEdges], options: options(totalEdges))
            try root.write("edge_feat", edgeFeatures, shape: [totalEdges, MolecularGraph.bondFeatureCount], options: options(totalEdges))
        }
    }

    /// Reads SciZoo's HDF5 layout, OGB arrays in HDF5, or OGB arrays in an .npz.
    public static func read(_ path: String) throws -> MolecularGraphDataset {
        func fail(_ message: String) -> MolecularGraphFileError { MolecularGraphFileError(file: path, message: message) }
        var arrays: [String: (values: [Int], shape: [Int])] = [:]
        if path.hasSuffix(".npz") {
            let archive = try NumpyArchive(contentsOf: path)
            for name in ["node_feat", "edge_index", "edge_feat", "num_nodes", "num_edges", "num_nodes_list", "num_edges_list", "record"] {
                guard let array = try? archive.array(name) else { continue }
                arrays[name] = (try array.integers(), array.shape)
            }
        } else {
            let file = try HDF5File(path: path)
            let root = try file.root
            for name in ["node_feat", "edge_index", "edge_feat", "num_nodes", "num_edges", "num_nodes_list", "num_edges_list", "record"] where root.contains(name) {
                let dataset = try root.dataset(name)
                arrays[name] = (try dataset.read(as: Int64.self).map(Int.init), try dataset.shape)
            }
        }
        guard let nodeFeatures = arrays["node_feat"] else { throw fail("no 'node_feat' array") }
        guard let edgeIndex = arrays["edge_index"] else { throw fail("no 'edge_index' array") }
        guard let edgeFeatures = arrays["edge_feat"] else { throw fail("no 'edge_feat' array") }
        guard let nodeCounts = arrays["num_nodes"] ?? arrays["num_nodes_list"] else { throw fail("no 'num_nodes' (or 'num_nodes_list') array") }
        guard let edgeCounts = arrays["num_edges"] ?? arrays["num_edges_list"] else { throw fail("no 'num_edges' (or 'num_edges_list') array") }
        let m = nodeCounts.values.count
        guard edgeCounts.values.count == m else { throw fail("num_edges has \(edgeCounts.values.count) entries, num_nodes \(m)") }
        guard nodeFeatures.shape.count == 2, nodeFeatures.shape[1] == MolecularGraph.atomFeatureCount else { throw fail("node_feat has shape \(nodeFeatures.shape), expected [N, 9]") }
        guard edgeFeatures.shape.count == 2, edgeFeatures.shape[1] == MolecularGraph.bondFeatureCount else { throw fail("edge_feat has shape \(edgeFeatures.shape), expected [E, 3]") }
        guard edgeIndex.shape.count == 2, edgeIndex.shape[0] == 2 else { throw fail("edge_index has shape \(edgeIndex.shape), expected [2, E]") }
        // Counts are summed below: a damaged one must not overflow the sum.
        if let bad = nodeCounts.values.firstIndex(where: { $0 < 0 || $0 > 1 << 31 }) { throw fail("num_nodes[\(bad)] = \(nodeCounts.values[bad]) is negative or beyond 2³¹") }
        if let bad = edgeCounts.values.firstIndex(where: { $0 < 0 || $0 > 1 << 31 }) { throw fail("num_edges[\(bad)] = \(edgeCounts.values[bad]) is negative or beyond 2³¹") }
        let totalNodes = nodeCounts.values.reduce(0, +), totalEdges = edgeCounts.values.reduce(0, +)
        guard nodeFeatures.shape[0] == totalNodes else { throw fail("node_feat has \(nodeFeatures.shape[0]) rows, num_nodes sums to \(totalNodes)") }
        guard edgeFeatures.shape[0] == totalEdges, edgeIndex.shape[1] == totalEdges else { throw fail("edge_feat has \(edgeFeatures.shape[0]) rows and edge_index \(edgeIndex.shape[1]) columns, num_edges sums to \(totalEdges)") }
        for (row, start) in stride(from: 0, to: nodeFeatures.values.count, by: 9).enumerated() {
            for k in 0..<9 where !(0..<MolecularGraph.atomFeatureSizes[k]).contains(nodeFeatures.values[start + k]) {
                throw fail("node_feat[\(row), \(k)] = \(nodeFeatures.values[start + k]) is outside OGB's 0..<\(MolecularGraph.atomFeatureSizes[k])")
            }
        }
        for (row, start) in stride(from: 0, to: edgeFeatures.values.count, by: 3).enumerated() {
            for k in 0..<3 where !(0..<MolecularGraph.bondFeatureSizes[k]).contains(edgeFeatures.values[start + k]) {
                throw fail("edge_feat[\(row), \(k)] = \(edgeFeatures.values[start + k]) is outside OGB's 0..<\(MolecularGraph.bondFeatureSizes[k])")
            }
        }
        var graphs: [MolecularGraph] = []
        graphs.reserveCapacity(m)
        var nodeOffset = 0, edgeOffset = 0
        for g in 0..<m {
            let n = nodeCounts.values[g], e = edgeCounts.values[g]
            let sources = Array(edgeIndex.values[edgeOffset..<(edgeOffset + e)])
            let targets = Array(edgeIndex.values[(totalEdges + edgeOffset)..<(totalEdges + edgeOffset + e)])
            if let bad = (sources + targets).first(where: { !(0..<n).contains($0) }) {
                throw fail("edge_index of graph \(g) names node \(bad), the graph has \(n)")
            }
            graphs.append(MolecularGraph(nodeCount: n, nodeFeatures: Array(nodeFeatures.values[(nodeOffset * 9)..<((nodeOffset + n) * 9)]),
                                         edgeIndex: sources + targets, edgeFeatures: Array(edgeFeatures.values[(edgeOffset * 3)..<((edgeOffset + e) * 3)])))
            nodeOffset += n
            edgeOffset += e
        }
        var records = arrays["record"]?.values
        if let r = records, r.count != m { records = nil }
        return MolecularGraphDataset(graphs: graphs, records: records)
    }
}
