// `scizoo bench graphormer`: Graphormer training graphs/s and memory against the PyTorch twin
// (Scripts/sfm/graphormer_twin.py) on the same collated batches, in the same run.
import ArgumentParser
import Foundation
import Kernels
import MolecularGraphs
import NeuralNetworks
import TensorCore
import TensorIO

struct BenchGraphormer: SciZooCommand {
    static let configuration = CommandConfiguration(
        commandName: "graphormer",
        abstract: "Graphormer training graphs/s and memory against a PyTorch twin of the same model on the same batches.",
        discussion: """
            Graphs are molecule-like (a random spanning tree plus one ring bond per six atoms, max-nodes/2 to max-nodes \
            atoms, OGB-range features), collated as upstream's collator does. Both sides train the same architecture \
            (dropout 0: the twin's attention has no dropout either) with Adam in float32 on the thread budget; medians \
            of the rounds, ours and the twin's alternating.
            """)

    enum Arch: String, ExpressibleByArgument { case slim, base, large }

    @Option(help: "slim, base or large (upstream's graphormer_* architectures).") var arch: Arch = .slim
    @Option(help: "Graphs per batch.") var batch = 64
    @Option(help: "Largest graph (atoms).") var maxNodes = 32
    @Option(help: "Training steps per measurement.") var steps = 10
    @Option(help: "Rounds, ours and the twin's alternating; medians are reported.") var rounds = 3
    @Option(help: "Override the layer count (the architecture's otherwise).") var layers: Int?
    @Flag(help: "Skip the PyTorch twin.") var noReference = false
    @OptionGroup var threadOptions: ThreadOptions
    var threads: Int? { threadOptions.threads }

    func execute(budget: ThreadBudget) throws {
        printBenchHeader(budget)
        var configuration = GraphormerConfiguration.architecture("graphormer_" + arch.rawValue)!
        configuration.dropout = 0
        configuration.activationDropout = 0
        if let layers { configuration.layers = layers }
        let batches = (0..<4).map { Self.batch(seed: UInt64($0), graphs: batch, maxNodes: maxNodes, configuration: configuration) }
        let model = GraphormerModel(configuration, seed: 1)
        let optimizer = Adam(model.namedParameters(), learningRate: 1e-4)
        print("graphormer_\(arch.rawValue): \(configuration.layers) layers, \(configuration.embeddingDim) dim, \(configuration.heads) heads, "
              + "\(model.parameterCount) parameters; batch \(batch) graphs of \(maxNodes / 2)–\(maxNodes) atoms (sequence \(batches[0].nodes + 1)), float32")
        func step(_ b: GraphormerBatch) throws {
            model.zeroGrad()
            let loss = (model(b) - 1.0).abs().mean()
            try loss.backward()
            optimizer.step()
        }
        // Memory of one step: tensor bytes beyond the weights, and the largest per-layer tensors.
        let scope = MemoryScope()
        try scope.measure { try step(batches[0]) }
        let biasBytes = batch * configuration.heads * (batches[0].nodes + 1) * (batches[0].nodes + 1) * 4
        let twinInput = try writeBatches(batches, configuration: configuration)
        defer { try? FileManager.default.removeItem(atPath: twinInput) }
        var ours: [Double] = [], references: [Double] = []
        var torchVersion = ""
        let clock = ContinuousClock()
        for _ in 0..<Swift.max(1, rounds) {
            let start = clock.now
            for k in 0..<steps { try step(batches[k % batches.count]) }
            ours.append(Double(batch * steps) / (clock.now - start).inSeconds)
            if !noReference, let json = runPythonTwin(BenchMLFF.packageFile("Scripts/sfm/graphormer_twin.py"),
                                                      ["bench", twinInput, "\(steps)", "\(budget.threads)", "1"]).last,
               let rate = json["graphs_per_second"] as? Double {
                references.append(rate)
                torchVersion = json["torch"] as? String ?? ""
            }
        }
        let rate = median(ours)
        print(String(format: "ours   %.1f graphs/s (median of %d rounds of %d steps)", rate, ours.count, steps))
        if references.isEmpty {
            if !noReference { print("twin:  unavailable (python3 with torch and h5py; see Scripts/sfm/graphormer_twin.py)") }
        } else {
            let reference = median(references)
            print(String(format: "twin   %.1f graphs/s (PyTorch %@, naive attention)   ours/twin %.2f×", reference, torchVersion, rate / reference))
        }
        let profile = AutogradProfile.drain()
        if !profile.isEmpty {
            print("backward by op (all steps; SCIZOO_PROFILE_AUTOGRAD): " + profile.prefix(14).map { String(format: "%@ %.3f s", $0.0, $0.1) }.joined(separator: ", "))
        }
        print("memory: one step's tensors beyond the weights \(gibibytes(scope.peakBytes)); the attention bias [B, H, L, L] is "
              + "\(gibibytes(biasBytes)) (built once per step, shared by every layer); process peak RSS \(gibibytes(peakRSS()))")
    }

    /// Molecule-like random graphs collated as upstream does.
    static func batch(seed: UInt64, graphs: Int, maxNodes: Int, configuration: GraphormerConfiguration) -> GraphormerBatch {
        var generator = RandomGenerator(seed: 1000 + seed)
        func draw(_ n: Int) -> Int { Swift.min(n - 1, Int(generator.uniform([1], low: 0, high: Double(n), dtype: .float64).doubles[0])) }
        let items = (0..<graphs).map { _ -> GraphormerItem in
            let n = Swift.max(1, maxNodes / 2 + draw(maxNodes - maxNodes / 2 + 1))
            var pairs: [(Int, Int)] = (1..<Swift.max(1, n)).map { ($0, draw($0)) }
            for _ in 0..<(n / 6) where n > 3 {
                let a = draw(n), b = draw(n)
                if a != b && !pairs.contains(where: { ($0 == a && $1 == b) || ($0 == b && $1 == a) }) { pairs.append((a, b)) }
            }
            let nodes = (0..<n).flatMap { _ in [5 + draw(3), 0, 1 + draw(3), 5, draw(3), 0, 1 + draw(2), draw(2), draw(2)] }
            var sources: [Int] = [], targets: [Int] = [], edges: [Int] = []
            for (a, b) in pairs {
                let bond = [draw(4), 0, draw(2)]
                sources += [a, b]; targets += [b, a]; edges += bond + bond
            }
            let graph = MolecularGraph(nodeCount: n, nodeFeatures: nodes, edgeIndex: sources + targets, edgeFeatures: edges)
            return GraphormerItem(graph, maxHops: configuration.multiHopMaxDist)
        }
        return GraphormerBatch(items, multiHopMaxDist: configuration.multiHopMaxDist, spatialPosMax: configuration.spatialPosMax)
    }

    /// The batches and the model's size for the twin.
    func writeBatches(_ batches: [GraphormerBatch], configuration c: GraphormerConfiguration) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("scizoo-graphormer-bench-\(getpid()).h5").path
        try HDF5File.writeAtomically(to: path) { file in
            let root = try file.root
            for (key, value) in [("layers", c.layers), ("dim", c.embeddingDim), ("ffn", c.ffnDim), ("heads", c.heads), ("classes", c.classes),
                                 ("num_atoms", c.numAtoms), ("num_degree", c.numInDegree), ("num_edges", c.numEdges), ("num_spatial", c.numSpatial),
                                 ("num_edge_dis", c.numEdgeDistances), ("multi_hop_max_dist", c.multiHopMaxDist)] {
                try root.setAttribute(key, .int(Int64(value)))
            }
            for (k, b) in batches.enumerated() {
                let (g, n) = (b.graphs, b.nodes)
                try root.write("batch_\(k)/x", b.x.map(Int64.init), shape: [g, n, 9])
                try root.write("batch_\(k)/in_degree", b.degree.map(Int64.init), shape: [g, n])
                try root.write("batch_\(k)/spatial_pos", b.spatialPos.map(Int64.init), shape: [g, n, n])
                try root.write("batch_\(k)/edge_input", b.edgeInput.map(Int64.init), shape: [g, n, n, b.hops, 3])
                try root.write("batch_\(k)/attn_bias", b.attnBias, shape: [g, n + 1, n + 1])
            }
        }
        return path
    }
}
