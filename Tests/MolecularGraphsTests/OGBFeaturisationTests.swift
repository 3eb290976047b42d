// Featurisation against `ogb.utils.smiles2graph` on real molecules: the NCI sample RDKit ships, as
// written (Kekulé) and as RDKit's isomeric SMILES of one stereoisomer each (aromatic, stereo). The
// fixture is made by Scripts/sfm/make_ogb_featurisation_fixture.py (RDKit 2026.09.1, ogb 1.3.6).
import Foundation
import Testing
import TestSupport
import TensorIO
@testable import MolecularGraphs

struct ReferenceSet {
    var smiles: [String], lines: [Int], ok: [Bool]
    var graphs: [MolecularGraph?]

    static let path = Fixtures.packageRoot.appendingPathComponent("Tests/MolecularGraphsTests/Fixtures/ogb_nci.h5").path

    init(_ name: String) throws {
        let file = try HDF5File(path: Self.path)
        let group = try file.root.group(name)
        smiles = try group.dataset("smiles").readStrings()
        lines = try group.dataset("line").read(as: Int64.self).map(Int.init)
        ok = try group.dataset("ok").read(as: Int8.self).map { $0 != 0 }
        let nodes = try group.dataset("num_nodes").read(as: Int64.self).map(Int.init)
        let edges = try group.dataset("num_edges").read(as: Int64.self).map(Int.init)
        let nodeFeatures = try group.dataset("node_feat").read(as: Int16.self).map(Int.init)
        let edgeIndex = try group.dataset("edge_index").read(as: Int16.self).map(Int.init)
        let edgeFeatures = try group.dataset("edge_feat").read(as: Int16.self).map(Int.init)
        let totalEdges = edges.reduce(0, +)
        var nodeOffset = 0, edgeOffset = 0
        graphs = []
        for m in smiles.indices {
            guard ok[m] else { graphs.append(nil); continue }
            let n = nodes[m], e = edges[m]
            graphs.append(MolecularGraph(
                nodeCount: n,
                nodeFeatures: Array(nodeFeatures[(nodeOffset * 9)..<((nodeOffset + n) * 9)]),
                edgeIndex: Array(edgeIndex[edgeOffset..<(edgeOffset + e)]) + Array(edgeIndex[(totalEdges + edgeOffset)..<(totalEdges + edgeOffset + e)]),
                edgeFeatures: Array(edgeFeatures[(edgeOffset * 3)..<((edgeOffset + e) * 3)])))
            nodeOffset += n
            edgeOffset += e
        }
    }
}

/// Where two graphs differ, in words: the first differing atom or bond feature.
func difference(_ ours: MolecularGraph, _ reference: MolecularGraph) -> String? {
    if ours.nodeCount != reference.nodeCount { return "\(ours.nodeCount) atoms, OGB \(reference.nodeCount)" }
    if ours.edgeCount != reference.edgeCount { return "\(ours.edgeCount) edges, OGB \(reference.edgeCount)" }
    let atomNames = ["atomic_num", "chirality", "degree", "charge", "num_hs", "radicals", "hybridisation", "aromatic", "in_ring"]
    for i in 0..<(ours.nodeFeatures.count) where ours.nodeFeatures[i] != reference.nodeFeatures[i] {
        return "atom \(i / 9) \(atomNames[i % 9]) \(ours.nodeFeatures[i]), OGB \(reference.nodeFeatures[i])"
    }
    if ours.edgeIndex != reference.edgeIndex { return "edge order differs" }
    let bondNames = ["type", "stereo", "conjugated"]
    for i in 0..<(ours.edgeFeatures.count) where ours.edgeFeatures[i] != reference.edgeFeatures[i] {
        let e = i / 3
        return "bond \(ours.edgeIndex[e])–\(ours.edgeIndex[ours.edgeCount + e]) \(bondNames[i % 3]) \(ours.edgeFeatures[i]), OGB \(reference.edgeFeatures[i])"
    }
    return nil
}

@Suite struct OGBFeaturisationTests {
    func agreement(_ name: String) throws -> (matched: Int, compared: Int, mismatches: [String]) {
        let set = try ReferenceSet(name)
        var matched = 0, compared = 0
        var mismatches: [String] = []
        for m in set.smiles.indices {
            guard let reference = set.graphs[m] else { continue }
            compared += 1
            do {
                let ours = try MolecularGraph.fromSMILES(set.smiles[m], file: "first_5K.smi", line: set.lines[m])
                if let problem = difference(ours, reference) {
                    mismatches.append("line \(set.lines[m]) \(set.smiles[m]): \(problem)")
                } else {
                    matched += 1
                }
            } catch {
                mismatches.append("line \(set.lines[m]) \(set.smiles[m]): error \(error)")
            }
        }
        return (matched, compared, mismatches)
    }

    @Test(arguments: ["nci_written", "nci_isomeric"])
    func matchesOGB(set: String) throws {
        let (matched, compared, mismatches) = try agreement(set)
        let fraction = Double(matched) / Double(compared)
        print("\(set): \(matched) of \(compared) equal to ogb.utils.smiles2graph (\(String(format: "%.2f", 100 * fraction)) %)")
        for line in mismatches.prefix(60) { print("  \(line)") }
        #expect(fraction >= 0.995, "\(set): \(mismatches.count) molecules differ")
    }
}

@Suite struct SDFInputTests {
    /// RDKit wrote these 3D SD files (hydrogens explicit) from SMILES; the graph must be the SMILES's.
    @Test(arguments: ["sdf_v2000", "sdf_v3000"])
    func sdfGivesTheGraphOfItsSMILES(version: String) throws {
        let reference = try ReferenceSet("sdf")
        let file = try HDF5File(path: ReferenceSet.path)
        let bytes = try file.root.group("sdf").dataset(version).read(as: UInt8.self)
        let directory = try Fixtures.scratchDirectory()
        let path = directory.appendingPathComponent("\(version).sdf").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let entries = try MoleculeInput.read(path)
        #expect(entries.count == reference.smiles.count)
        for (entry, expected) in zip(entries, reference.graphs) {
            let graph = entry.molecule.ogbGraph()
            #expect(difference(graph, expected!) == nil, "record \(entry.record): \(difference(graph, expected!) ?? "")")
            #expect(entry.positions?.count == graph.nodeCount)
        }
    }
}
