// The reader and the perception rules on molecules whose answers chemistry fixes, and the errors a
// user sees for bad input.
import Foundation
import Testing
import TestSupport
import TensorIO
@testable import MolecularGraphs

func perceived(_ smiles: String) throws -> Molecule {
    var molecule = try SMILES.parse(smiles)
    try molecule.perceive()
    return molecule
}

@Suite struct PerceptionTests {
    @Test func hydrogensAndAromaticity() throws {
        let pyridine = try perceived("c1ccncc1")
        #expect(pyridine.atoms.map(\.totalHydrogens) == [1, 1, 1, 0, 1, 1])
        #expect(pyridine.atoms.allSatisfy { $0.isAromatic })
        let pyrrole = try perceived("c1cc[nH]c1")
        #expect(pyrrole.atoms[3].totalHydrogens == 1 && pyrrole.atoms.allSatisfy { $0.isAromatic })
        // Kekulé input is perceived aromatic; cyclohexa-1,3-diene is not.
        #expect(try perceived("C1=CC=CC=C1").bonds.allSatisfy { $0.isAromatic })
        #expect(try perceived("C1=CC=CCC1").atoms.allSatisfy { !$0.isAromatic })
        // 2-pyridone: the exocyclic C=O takes the carbon's electron, the ring stays aromatic.
        let pyridone = try perceived("O=c1cccc[nH]1")
        #expect(pyridone.atoms[1...].allSatisfy { $0.isAromatic } && !pyridone.atoms[0].isAromatic)
        // Thiophene's sulfur takes no hydrogen; furan's oxygen none either.
        #expect(try perceived("c1ccsc1").atoms[3].totalHydrogens == 0)
        #expect(try perceived("CS(=O)(=O)C").atoms[1].totalHydrogens == 0)
    }

    @Test func ringsAreTheRelevantCycles() throws {
        #expect(try perceived("c1ccc2ccccc2c1").rings.map(\.count).sorted() == [6, 6])
        #expect(try perceived("C12C3C4C1C5C2C3C45").rings.count == 6)  // cubane: six four-rings
        #expect(try perceived("C1CC2CCC1CC2").rings.map(\.count) == [6, 6, 6])  // bicyclo[2.2.2]octane
        let spiro = try perceived("C1CCC2(C1)CCC2")
        #expect(spiro.rings.map(\.count).sorted() == [4, 5] && spiro.atomInRing.allSatisfy { $0 })
    }

    @Test func conjugationAndHybridisation() throws {
        let acetamide = try perceived("CC(=O)N")
        #expect(acetamide.atoms.map(\.hybridisation) == [.sp3, .sp2, .sp2, .sp2])
        #expect(acetamide.bonds.map(\.isConjugated) == [false, true, true])
        let acetonitrile = try perceived("CC#N")
        #expect(acetonitrile.atoms[1].hybridisation == .sp)
    }

    @Test func stereoMarksBecomeRDKitTags() throws {
        // OGB's own example: Cl[C@H](/C=C/C)Br, atom 1 CCW (2), bond 2 E (2).
        let graph = try MolecularGraph.fromSMILES("Cl[C@H](/C=C/C)Br")
        #expect(Array(graph.nodeFeatures[9..<18]) == [5, 2, 4, 5, 1, 0, 2, 0, 0])
        #expect(Array(graph.edgeFeatures[(4 * 3)..<(5 * 3)]) == [1, 2, 0])
        // An atom with two equal neighbours is no stereocentre: the mark is dropped.
        #expect(try perceived("C[C@H](C)O").atoms[1].tetrahedralCounterClockwise == nil)
        #expect(try perceived("F[C@H](Cl)Br").atoms[1].tetrahedralCounterClockwise == true)
        #expect(try perceived("[C@H](F)(Cl)Br").atoms[0].tetrahedralCounterClockwise == false)
    }
}

@Suite struct BadMoleculeInputTests {
    func message(_ smiles: String) -> String {
        do {
            _ = try MolecularGraph.fromSMILES(smiles, file: "mols.smi", line: 7)
            return "accepted"
        } catch {
            return error.description
        }
    }

    @Test func malformedSMILESNameFileLineAndCharacter() {
        #expect(message("C1CC") == "mols.smi:7:2: ring bond 1 is opened and never closed")
        #expect(message("CC(C") == "mols.smi:7:5: unclosed '('")
        #expect(message("CC)C") == "mols.smi:7:3: unmatched ')'")
        #expect(message("C[Xx]") == "mols.smi:7:3: unknown element 'Xx'")
        #expect(message("CQ") == "mols.smi:7:2: 'Q' is not an organic-subset atom; other elements go in brackets, e.g. [Q]")
        #expect(message("Cu") == "mols.smi:7:2: 'u' is not an atom; Cu is outside the organic subset and goes in brackets: [Cu]")
        #expect(message("C%1") == "mols.smi:7:4: '%' must be followed by two digits")
        #expect(message("C->") == "mols.smi:7:2: the SMILES ends in a bond symbol")
        #expect(message("C==C") == "mols.smi:7:3: two bond symbols in a row")
        #expect(message("C[C") == "mols.smi:7:2: unclosed '['")
        #expect(message("") == "mols.smi:7: empty SMILES")
    }

    @Test func impossibleChemistryIsAnErrorNotAWrongFeature() {
        #expect(message("c1cccc1") == "mols.smi:7: c1cccc1: cannot kekulise the aromatic system (atoms 1, 2, 3, 4, 5 cannot all take a double bond)")
        #expect(message("C(C)(C)(C)(C)C").contains("atom 1 (C) has valence 5, above the allowed 4"))
    }

    @Test func filesNameTheLine() throws {
        let directory = try Fixtures.scratchDirectory()
        let csv = directory.appendingPathComponent("mols.csv").path
        try "idx,smiles,homolumogap\n0,CCO,6.1\n1,c1ccccc1,5.2\n2,C1CC,1.0\n".write(toFile: csv, atomically: true, encoding: .utf8)
        #expect(throws: MoleculeInputError.self) { try MoleculeInput.read(csv) }
        do { _ = try MoleculeInput.read(csv) } catch { #expect("\(error)" == "\(csv):4:2: ring bond 1 is opened and never closed") }
        var skipped: [String] = []
        let entries = try MoleculeInput.read(csv, skipInvalid: true) { skipped.append("\($0)") }
        #expect(entries.map(\.record) == [2, 3] && skipped.count == 1)
        #expect(entries[1].properties["homolumogap"] == "5.2")
        let noColumn = directory.appendingPathComponent("bad.csv").path
        try "idx,smile\n0,CCO\n".write(toFile: noColumn, atomically: true, encoding: .utf8)
        do { _ = try MoleculeInput.read(noColumn); Issue.record("accepted a CSV without a smiles column") } catch {
            #expect("\(error)".contains("no 'smiles' column"))
        }
        let empty = directory.appendingPathComponent("empty.smi").path
        try "\n# nothing\n".write(toFile: empty, atomically: true, encoding: .utf8)
        do { _ = try MoleculeInput.read(empty); Issue.record("accepted an empty file") } catch { #expect("\(error)".contains("no molecules")) }
        let sdf = directory.appendingPathComponent("bad.sdf").path
        try "name\n  prog\n\n  2  1  0  0  0  0            999 V2000\n    0.0 0.0 0.0 C   0  0\n".write(toFile: sdf, atomically: true, encoding: .utf8)
        do { _ = try MoleculeInput.read(sdf); Issue.record("accepted a truncated SDF") } catch { #expect("\(error)".contains("bad.sdf:4: record 1: counts line promises 2 atoms and 1 bonds")) }
        // "nan" parses as a Double: a coordinate must also be finite (Transformer-M and DiG train on them).
        let nan = directory.appendingPathComponent("nan.sdf").path
        try "name\n  prog\n\n  1  0  0  0  0  0            999 V2000\n    0.0000       nan    0.0000 C   0  0  0  0  0  0  0  0  0  0  0  0\nM  END\n$$$$\n"
            .write(toFile: nan, atomically: true, encoding: .utf8)
        do { _ = try MoleculeInput.read(nan); Issue.record("accepted a NaN coordinate") } catch {
            #expect("\(error)".contains("nan.sdf:5") && "\(error)".contains("expected finite x, y, z"), "\(error)")
        }
    }
}

@Suite struct MolecularGraphFileTests {
    @Test func roundTripsAndReadsOGBArrays() throws {
        let graphs = try ["CCO", "c1ccccc1", "[Na+].[Cl-]", "[He]"].map { try MolecularGraph.fromSMILES($0) }
        let directory = try Fixtures.scratchDirectory()
        let path = directory.appendingPathComponent("g.h5").path
        try MolecularGraphDataset(graphs: graphs, records: [1, 2, 3, 5]).write(to: path, source: "test")
        let back = try MolecularGraphDataset.read(path)
        #expect(back.graphs == graphs && back.records == [1, 2, 3, 5])
        // OGB's DatasetSaver names (num_nodes_list) in an .npz.
        var nodes: [Int64] = [], edges: [Int64] = [], sources: [Int64] = [], targets: [Int64] = []
        for g in graphs {
            nodes += g.nodeFeatures.map(Int64.init); edges += g.edgeFeatures.map(Int64.init)
            sources += g.edgeIndex[0..<g.edgeCount].map(Int64.init); targets += g.edgeIndex[g.edgeCount...].map(Int64.init)
        }
        func array(_ values: [Int64], _ shape: [Int]) -> NumpyArray {
            NumpyArray(descr: "<i8", shape: shape, bytes: values.withUnsafeBytes { Array($0) })
        }
        let npz = directory.appendingPathComponent("g.npz").path
        func writeNPZ(nodeFeatures: [Int64], countSuffix: String) throws {
            try NumpyArchive.write([
                ("node_feat", array(nodeFeatures, [nodes.count / 9, 9])), ("edge_feat", array(edges, [edges.count / 3, 3])),
                ("edge_index", array(sources + targets, [2, sources.count])),
                ("num_nodes" + countSuffix, array(graphs.map { Int64($0.nodeCount) }, [graphs.count])),
                ("num_edges" + countSuffix, array(graphs.map { Int64($0.edgeCount) }, [graphs.count])),
            ], to: npz)
        }
        try writeNPZ(nodeFeatures: nodes, countSuffix: "_list")
        #expect(try MolecularGraphDataset.read(npz).graphs == graphs)
        // A feature outside OGB's vocabulary is named.
        var bad = nodes
        bad[9 + 2] = 40
        try writeNPZ(nodeFeatures: bad, countSuffix: "")
        do { _ = try MolecularGraphDataset.read(npz); Issue.record("accepted a bad feature") } catch {
            #expect("\(error)" == "\(npz): node_feat[1, 2] = 40 is outside OGB's 0..<12")
        }
    }
}
