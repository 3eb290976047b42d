// Graphormer's encodings against upstream's own `preprocess_item` (algos.pyx) and `collator`, run on
// molecular and random graphs (disconnected ones, a lone atom, far pairs masked) by
// Scripts/sfm/make_graphormer_encoding_fixture.py.
import Foundation
import Testing
import TestSupport
import TensorIO
@testable import MolecularGraphs

@Suite struct GraphormerEncodingTests {
    @Test func collatedBatchesEqualUpstream() throws {
        let file = try HDF5File(path: Fixtures.packageRoot.appendingPathComponent("Tests/MolecularGraphsTests/Fixtures/graphormer_encodings.h5").path)
        let root = try file.root
        let batches = try root.memberNames().filter { $0.hasPrefix("batch_") }
        #expect(batches.count == 7)
        for name in batches {
            let group = try root.group(name)
            func ints(_ key: String) throws -> [Int] { try group.dataset(key).read(as: Int64.self).map(Int.init) }
            guard case .int(let hops) = try group.attribute("multi_hop_max_dist"), case .int(let far) = try group.attribute("spatial_pos_max") else {
                Issue.record("\(name): missing attributes"); continue
            }
            var items: [GraphormerItem] = []
            for graphName in try group.memberNames().filter({ $0.hasPrefix("graph_") }).sorted(by: { Int($0.dropFirst(6))! < Int($1.dropFirst(6))! }) {
                let g = try group.group(graphName)
                let nodes = try g.dataset("node_feat").read(as: Int64.self).map(Int.init)
                let edgeIndex = try g.dataset("edge_index").read(as: Int64.self).map(Int.init)
                let edges = try g.dataset("edge_feat").read(as: Int64.self).map(Int.init)
                let graph = MolecularGraph(nodeCount: nodes.count / 9, nodeFeatures: nodes, edgeIndex: edgeIndex, edgeFeatures: edges)
                items.append(GraphormerItem(graph, maxHops: Int(hops)))
            }
            let batch = GraphormerBatch(items, multiHopMaxDist: Int(hops), spatialPosMax: Int(far))
            #expect(try group.dataset("x").shape == [batch.graphs, batch.nodes, 9], "\(name)")
            #expect(batch.x == (try ints("x")), "\(name): x")
            #expect(batch.degree == (try ints("in_degree")), "\(name): in_degree")
            #expect(batch.spatialPos == (try ints("spatial_pos")), "\(name): spatial_pos")
            #expect(try group.dataset("edge_input").shape == [batch.graphs, batch.nodes, batch.nodes, batch.hops, 3], "\(name)")
            #expect(batch.edgeInput == (try ints("edge_input")), "\(name): edge_input")
            #expect(batch.attnBias == (try group.dataset("attn_bias").read(as: Float.self)), "\(name): attn_bias")
        }
    }
}
