// `scizoo mol-graphs` as a user runs it: a malformed line stops the run with one line naming the file,
// line and character and leaves no output behind; --skip-invalid names and counts it; the output
// reads back as the graphs of the readable molecules.
import Foundation
import Testing
import TestSupport
import MolecularGraphs
import TensorIO

@Suite("scizoo mol-graphs")
struct MoleculeCLITests {
    @Test func featurisesAndRefusesBadLines() throws {
        let folder = try Fixtures.scratchDirectory().path
        let input = folder + "/mols.smi", output = folder + "/graphs.h5"
        try "c1ccccc1O phenol\nCC(=O)Nc1ccc(O)cc1 paracetamol\n\nC1CC broken\n".write(toFile: input, atomically: true, encoding: .utf8)
        let refused = try CLI.run(["mol-graphs", "--input", input, "--output", output])
        #expect(refused.status != 0)
        #expect(refused.standardError.contains("\(input):4:2: ring bond 1 is opened and never closed"), "\(refused.standardError)")
        #expect(!FileManager.default.fileExists(atPath: output))
        let skipped = try CLI.run(["mol-graphs", "--input", input, "--output", output, "--skip-invalid"])
        #expect(skipped.status == 0, "\(skipped.standardError)")
        #expect(skipped.standardOutput.contains("2 molecules (18 atoms)") && skipped.standardOutput.contains("1 skipped"), "\(skipped.standardOutput)")
        #expect(skipped.standardError.contains("skipped: \(input):4:2:"))
        let file = try HDF5File(path: output)
        #expect(try file.root.dataset("record").read(as: Int64.self) == [1, 2])
        #expect(try file.root.dataset("num_nodes").read(as: Int64.self) == [7, 11])
        #expect(try file.root.dataset("edge_index").shape == [2, 2 * (7 + 11)])
        let empty = folder + "/empty.smi"
        try "\n".write(toFile: empty, atomically: true, encoding: .utf8)
        let none = try CLI.run(["mol-graphs", "--input", empty, "--output", output + "2"])
        #expect(none.status != 0 && none.standardError.contains("no molecules"), "\(none.standardError)")
    }
}

@Suite("scizoo graphormer-*")
struct GraphormerCLITests {
    /// 120 NCI-like molecules with a target that depends on the structure (heavy atoms / 10 plus rings / 2).
    static func dataset(in folder: String) throws -> String {
        let smiles = ["CCO", "CCN", "CCC", "c1ccccc1", "c1ccncc1", "CC(=O)O", "CC(=O)N", "OCCO", "C1CCCCC1", "c1ccc2ccccc2c1",
                      "CC(C)O", "CCCCO", "c1ccoc1", "c1ccsc1", "NCCN", "N#CC", "C=CC=C", "OC(=O)c1ccccc1", "Cc1ccccc1", "ClCC"]
        var lines = ["idx,smiles,target,split"]
        for i in 0..<120 {
            let s = smiles[i % smiles.count] + String(repeating: "C", count: i / smiles.count)
            let molecule = try MolecularGraph.fromSMILES(s)
            let rings = molecule.nodeFeatures.enumerated().filter { $0.offset % 9 == 8 }.map(\.element).reduce(0, +)
            let target = Double(molecule.nodeCount) / 10 + Double(rings) / 2
            lines.append("\(i),\(s),\(target),\(i < 96 ? "train" : (i < 108 ? "valid" : "test"))")
        }
        lines.append("120,\(String(repeating: "C", count: 40)),4.0,train")  // above max_nodes 32: left out, counted
        let path = folder + "/molecules.csv"
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func recipe(_ data: String, in folder: String) throws -> String {
        let text = """
            seed: 3
            data: {path: \(data), target: target, batch_size: 8, max_nodes: 32}
            model: {arch: graphormer_slim, encoder_layers: 2, encoder_embed_dim: 16, encoder_ffn_embed_dim: 16, encoder_attention_heads: 4}
            task: {lr: 1.0e-3, warmup_updates: 4}
            trainer: {max_epoch: 3, log_interval: 4}
            """
        let path = folder + "/recipe.yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("train, stop and resume bit for bit, predict; bad recipes and targets refused in one line")
    func trainResumePredict() throws {
        let folder = try Fixtures.scratchDirectory().path
        let recipe = try Self.recipe(try Self.dataset(in: folder), in: folder)
        let whole = try CLI.run(["graphormer-train", "--config", recipe, "--run-dir", folder + "/whole", "--threads", "1"])
        #expect(whole.status == 0, "\(whole.standardError)")
        #expect(whole.standardOutput.contains("left out 1 molecule(s) above max_nodes 32"), "\(whole.standardOutput)")
        #expect(whole.standardOutput.contains("96 train, 12 valid, 12 test molecules"))
        #expect(whole.standardOutput.contains("mean predictor"))
        let first = try CLI.run(["graphormer-train", "--config", recipe, "--run-dir", folder + "/split", "--threads", "1", "--stop-at-step", "20"])
        #expect(first.status == 0, "\(first.standardError)")
        let second = try CLI.run(["graphormer-train", "--config", recipe, "--run-dir", folder + "/split", "--threads", "1", "--resume"])
        #expect(second.status == 0, "\(second.standardError)")
        #expect(try CLI.metricsWithoutTiming(folder + "/whole", timing: "graphs_per_second") == CLI.metricsWithoutTiming(folder + "/split", timing: "graphs_per_second"))
        let scores = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/whole/test_scores.json"))) as! [String: Double]
        #expect(scores["test/mae"] != nil && scores["test/mean_predictor_mae"] != nil)

        let predicted = try CLI.run(["graphormer-predict", "--checkpoint", folder + "/whole/checkpoints/best.h5", "--input", folder + "/molecules.csv",
                                     "--output", folder + "/predictions.csv"])
        #expect(predicted.status == 0 && predicted.standardOutput.contains("120 predictions"), "\(predicted.standardError)")
        #expect(predicted.standardError.contains("skipped: \(folder)/molecules.csv:122: 40 atoms, above max_nodes 32"))
        let rows = try String(contentsOfFile: folder + "/predictions.csv", encoding: .utf8).split(separator: "\n")
        #expect(rows.first == "record,molecule,prediction" && rows.count == 121)
        #expect(rows[1].hasPrefix("2,CCO,"))

        // A missing target names its line; an unknown key names its line and the closest key.
        try "idx,smiles,target\n0,CCO,1.0\n1,CCN,\n".write(toFile: folder + "/bad.csv", atomically: true, encoding: .utf8)
        let badTarget = try CLI.run(["graphormer-train", "--config", try Self.recipe(folder + "/bad.csv", in: folder), "--run-dir", folder + "/bad"])
        #expect(badTarget.status != 0 && badTarget.standardError.contains("bad.csv:3: target 'target' is '', not a finite number"), "\(badTarget.standardError)")
        try (try String(contentsOfFile: recipe, encoding: .utf8)).replacingOccurrences(of: "warmup_updates", with: "warmup_update")
            .write(toFile: folder + "/typo.yaml", atomically: true, encoding: .utf8)
        let typo = try CLI.run(["graphormer-train", "--config", folder + "/typo.yaml", "--run-dir", folder + "/typo"])
        #expect(typo.status != 0 && typo.standardError.contains("warmup_update") && typo.standardError.contains("warmup_updates"), "\(typo.standardError)")
    }

    @Test("a NaN loss stops the run naming its step; --skip-non-finite passes it without an update, marks it, and resumes bit for bit")
    func nonFiniteStepStopsOrIsSkipped() throws {
        let folder = try Fixtures.scratchDirectory().path
        let recipe = try Self.recipe(try Self.dataset(in: folder), in: folder)
        let poison = ["SCIZOO_FAULT": "nan:rank=0:step=5"]
        func train(_ run: String, _ extra: [String], environment: [String: String] = [:]) throws -> ProcessResult {
            try Subprocess.run(try CLI.executable, ["graphormer-train", "--config", recipe, "--run-dir", folder + "/" + run, "--threads", "1"] + extra,
                               environment: environment)
        }
        func metrics(_ run: String) throws -> [[String: Any]] {
            try String(contentsOfFile: folder + "/\(run)/metrics.jsonl", encoding: .utf8).split(separator: "\n")
                .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        }

        let stopped = try train("stopped", [], environment: poison)
        #expect(stopped.status != 0 && stopped.standardError.contains("step 5: the loss is nan"), "\(stopped.standardError)")
        #expect(try metrics("stopped").compactMap { $0["step"] as? Int }.allSatisfy { $0 < 5 })

        let skipped = try train("skipped", ["--skip-non-finite"], environment: poison)
        #expect(skipped.status == 0, "\(skipped.standardError)")
        #expect(skipped.standardOutput.contains("step 5 skipped, no update (--skip-non-finite): the loss is nan"), "\(skipped.standardOutput)")
        let marked = try metrics("skipped").filter { $0["skipped"] as? Bool == true }
        #expect(marked.count == 1 && marked.first?["step"] as? Int == 5 && marked.first?["train/loss"] is NSNull, "\(marked)")
        // The count rides in the checkpoint, so a resumed run keeps counting (and 20 in a row still stop it).
        let state = try HDF5File(path: folder + "/skipped/checkpoints/last.h5").attribute("run_state").stringValue ?? ""
        #expect(state.contains("\"skipped_steps\": 1"), "\(state)")

        // No update at the skipped step: the weights after step 5 are those after step 4.
        _ = try train("four", ["--stop-at-step", "4"])
        _ = try train("five", ["--stop-at-step", "5", "--skip-non-finite"], environment: poison)
        var predictions: [String] = []
        for run in ["four", "five"] {
            let output = folder + "/\(run).csv"
            let predicted = try CLI.run(["graphormer-predict", "--checkpoint", folder + "/\(run)/checkpoints/last.h5", "--input", folder + "/molecules.csv",
                                         "--output", output])
            #expect(predicted.status == 0, "\(predicted.standardError)")
            predictions.append(try String(contentsOfFile: output, encoding: .utf8))
        }
        #expect(predictions[0] == predictions[1])

        // Stopped before the skipped step and resumed across it: the same run, bit for bit.
        _ = try train("resumed", ["--stop-at-step", "3", "--skip-non-finite"], environment: poison)
        let resumed = try train("resumed", ["--resume", "--skip-non-finite"], environment: poison)
        #expect(resumed.status == 0, "\(resumed.standardError)")
        #expect(try CLI.metricsWithoutTiming(folder + "/skipped", timing: "graphs_per_second")
                == CLI.metricsWithoutTiming(folder + "/resumed", timing: "graphs_per_second"))
    }

    @Test("killed between writing a better checkpoint and copying it to best.h5, a resume copies it again: test scores equal an uninterrupted run's")
    func killBeforeBestCopyIsMended() throws {
        let folder = try Fixtures.scratchDirectory().path
        let recipe = try Self.recipe(try Self.dataset(in: folder), in: folder)
        func train(_ run: String, _ extra: [String], environment: [String: String] = [:]) throws -> ProcessResult {
            try Subprocess.run(try CLI.executable, ["graphormer-train", "--config", recipe, "--run-dir", folder + "/" + run, "--threads", "1"] + extra,
                               environment: environment)
        }
        let whole = try train("whole", [])
        #expect(whole.status == 0, "\(whole.standardError)")
        // Step 12 ends the first epoch: its validation is the first, so always the best so far.
        let killed = try train("killed", [], environment: ["SCIZOO_FAULT": "kill-before-best:rank=0:step=12"])
        let best = folder + "/killed/checkpoints/best.h5"
        #expect(killed.status != 0 && killed.standardError.contains("before best.h5 is copied"), "\(killed.standardError)")
        #expect(!FileManager.default.fileExists(atPath: best))
        let mended = try train("killed", ["--resume", "--stop-at-step", "12"])
        #expect(mended.status == 0 && mended.standardOutput.contains("best.h5 copied again from the step-12 checkpoint"), "\(mended.standardOutput)")
        #expect(try HDF5File(path: best).attribute("step").intValue == 12)
        let finished = try train("killed", ["--resume"])
        #expect(finished.status == 0, "\(finished.standardError)")
        #expect(try CLI.metricsWithoutTiming(folder + "/whole", timing: "graphs_per_second")
                == CLI.metricsWithoutTiming(folder + "/killed", timing: "graphs_per_second"))
        let scores = try ["whole", "killed"].map { try String(contentsOfFile: folder + "/\($0)/test_scores.json", encoding: .utf8) }
        #expect(scores[0] == scores[1], "\(scores)")
    }

    @Test("Transformer-M from the bundled SD file: 3D modes, noise and drop-path resume bit for bit; predict with and without positions; 3D without structures refused")
    func transformerMTrainsResumesAndPredicts() throws {
        let folder = try Fixtures.scratchDirectory().path
        let data = Fixtures.packageRoot.appendingPathComponent("Datasets/molecules/molecules.sdf.gz").path
        func recipe(_ path: String, model extra: String = "", name: String = "tm.yaml") throws -> String {
            let text = """
                seed: 5
                data: {path: \(path), target: homolumogap, batch_size: 16, max_nodes: 64}
                model: {arch: graphormer_slim, encoder_layers: 2, encoder_embed_dim: 16, encoder_ffn_embed_dim: 16, encoder_attention_heads: 4,
                        add_3d: true, num_3d_bias_kernel: 8, droppath_prob: 0.1\(extra)}
                task: {lr: 1.0e-3, warmup_updates: 4}
                trainer: {max_epoch: 1, max_update: 24, validate_interval_updates: 12, log_interval: 4}
                """
            try text.write(toFile: folder + "/" + name, atomically: true, encoding: .utf8)
            return folder + "/" + name
        }
        let config = try recipe(data)
        let whole = try CLI.run(["graphormer-train", "--config", config, "--run-dir", folder + "/whole", "--threads", "1"])
        #expect(whole.status == 0, "\(whole.standardError)")
        #expect(whole.standardOutput.contains("3D channel: 1600 of 1600 training molecules have positions"), "\(whole.standardOutput)")
        let first = try CLI.run(["graphormer-train", "--config", config, "--run-dir", folder + "/split", "--threads", "1", "--stop-at-step", "10"])
        #expect(first.status == 0, "\(first.standardError)")
        let second = try CLI.run(["graphormer-train", "--config", config, "--run-dir", folder + "/split", "--threads", "1", "--resume"])
        #expect(second.status == 0, "\(second.standardError)")
        #expect(try CLI.metricsWithoutTiming(folder + "/whole", timing: "graphs_per_second") == CLI.metricsWithoutTiming(folder + "/split", timing: "graphs_per_second"))

        // Predictions with the structures differ from the graph-only ones (the 3D channel is used).
        let checkpoint = folder + "/whole/checkpoints/best.h5"
        let with3D = try CLI.run(["graphormer-predict", "--checkpoint", checkpoint, "--input", data, "--output", folder + "/p3d.csv"])
        let without = try CLI.run(["graphormer-predict", "--checkpoint", checkpoint, "--input", data, "--output", folder + "/p2d.csv", "--no-positions"])
        #expect(with3D.status == 0 && without.status == 0, "\(with3D.standardError) \(without.standardError)")
        let (a, b) = (try String(contentsOfFile: folder + "/p3d.csv", encoding: .utf8), try String(contentsOfFile: folder + "/p2d.csv", encoding: .utf8))
        #expect(a.split(separator: "\n").count == 2001 && a != b)

        // A SMILES file has no structures; a malformed mode_prob is refused instead of replaced.
        try "idx,smiles,homolumogap\n0,CCO,1.0\n1,CCN,2.0\n".write(toFile: folder + "/flat.csv", atomically: true, encoding: .utf8)
        let flat = try CLI.run(["graphormer-train", "--config", try recipe(folder + "/flat.csv", name: "flat.yaml"), "--run-dir", folder + "/flat"])
        #expect(flat.status != 0 && flat.standardError.contains("add_3d needs 3D structures"), "\(flat.standardError)")
        let modes = try CLI.run(["graphormer-train", "--config", try recipe(data, model: ", mode_prob: \"0.5,0.6\"", name: "modes.yaml"), "--run-dir", folder + "/modes"])
        #expect(modes.status != 0 && modes.standardError.contains("mode_prob") && modes.standardError.contains("summing to 1"), "\(modes.standardError)")
    }
}
