// The force-field commands as a user runs them: train on the bundled frames (the smoke recipe,
// shortened), evaluate and draw the parity plot, predict with the checkpoint and with schnetpack's
// own weights, convert to HDF5, run MD on the trained model and resume it bit for bit; and bad
// frames refused with one line naming the file and the frame.
import Foundation
import Testing
import TestSupport

@Suite("scizoo mlff-*")
struct MLFFCLITests {
    static let dataset = Fixtures.packageRoot.appendingPathComponent("Datasets/mlff/ethanol_gfn2xtb.extxyz").path

    /// The smoke recipe with an absolute data path and `epochs` epochs.
    static func recipe(in folder: String, epochs: Int) throws -> String {
        let text = try String(contentsOfFile: Fixtures.packageRoot.appendingPathComponent("Recipes/mlff/smoke.yaml").path, encoding: .utf8)
            .replacingOccurrences(of: "../../Datasets/mlff/ethanol_gfn2xtb.extxyz", with: dataset)
            .replacingOccurrences(of: #"max_epochs: \d+"#, with: "max_epochs: \(epochs)", options: .regularExpression)
        let path = folder + "/smoke.yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("train, evaluate, predict, convert; MD on the trained model resumes bit for bit")
    func pipeline() throws {
        let folder = try Fixtures.scratchDirectory().path, run = folder + "/run"
        let trained = try CLI.run(["mlff-train", "--config", try Self.recipe(in: folder, epochs: 2), "--run-dir", run, "--threads", "2"])
        #expect(trained.status == 0, "\(trained.standardError)")
        #expect(trained.standardOutput.contains("test (500 frames, best checkpoint): energy MAE"), "\(trained.standardOutput)")
        let best = run + "/checkpoints/best.h5"

        // Evaluation on the HDF5 conversion equals evaluation on the extended XYZ.
        let converted = try CLI.run(["mlff-convert", "--input", Self.dataset, "--output", folder + "/frames.h5"])
        #expect(converted.status == 0 && converted.standardOutput.contains("2000 frames"), "\(converted.standardError)")
        var scores: [[String: Any]] = []
        for data in [Self.dataset, folder + "/frames.h5"] {
            let output = folder + "/scores-\(scores.count).json"
            let evaluated = try CLI.run(["mlff-eval", "--checkpoint", best, "--data", data, "--output", output, "--plot", folder + "/parity.png"])
            #expect(evaluated.status == 0 && evaluated.standardOutput.contains("2000 frames"), "\(evaluated.standardError)")
            scores.append(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: output))) as! [String: Any])
        }
        #expect((scores[0]["eval/forces_mae"] as! Double) == (scores[1]["eval/forces_mae"] as! Double))
        #expect(scores[0]["eval/energy_per_atom_mae"] != nil && (scores[0]["units"] as! String).contains("per atom"))
        let png = try Data(contentsOf: URL(fileURLWithPath: folder + "/parity.png"))
        #expect(png.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))

        // Prediction: the first five frames come back with the model's energies and forces.
        let five = try String(contentsOfFile: Self.dataset, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).prefix(55)
        try (five.joined(separator: "\n") + "\n").write(toFile: folder + "/five.extxyz", atomically: true, encoding: .utf8)
        let predicted = try CLI.run(["mlff-predict", "--checkpoint", best, "--input", folder + "/five.extxyz", "--output", folder + "/five-out.extxyz"])
        #expect(predicted.status == 0, "\(predicted.standardError)")
        let out = try String(contentsOfFile: folder + "/five-out.extxyz", encoding: .utf8)
        #expect(out.components(separatedBy: "Properties=species:S:1:pos:R:3:forces:R:3 energy=").count - 1 == 5)

        // MD with the trained model: stop at 100 steps and resume = 200 steps in one go.
        let md = """
            structure: \(folder)/five.extxyz
            potential: {type: model, checkpoint: \(best)}
            dtype: float64
            integrator: nose-hoover
            temperature_K: 300
            timestep_fs: 0.5
            steps: 200
            seed: 3
            write_every: 20
            restart_every: 50
            """
        try md.write(toFile: folder + "/md.yaml", atomically: true, encoding: .utf8)
        let whole = try CLI.run(["md", "--config", folder + "/md.yaml", "--output", folder + "/md-whole"])
        let first = try CLI.run(["md", "--config", folder + "/md.yaml", "--output", folder + "/md-split", "--stop-at-step", "100"])
        let second = try CLI.run(["md", "--config", folder + "/md.yaml", "--output", folder + "/md-split", "--resume"])
        #expect(whole.status == 0 && first.status == 0 && second.status == 0, "\(whole.standardError)\(first.standardError)\(second.standardError)")
        #expect(second.standardOutput.contains("resumed from") && !FileManager.default.fileExists(atPath: folder + "/md-split/thermo.jsonl.partial"))
        for file in ["thermo.jsonl", "trajectory.extxyz"] {
            #expect(try Data(contentsOf: URL(fileURLWithPath: folder + "/md-whole/" + file)) == Data(contentsOf: URL(fileURLWithPath: folder + "/md-split/" + file)), "\(file)")
        }
    }

    @Test("schnetpack's weights through mlff-predict --weights --config give schnetpack's ethanol energy")
    func schnetpackWeights() throws {
        let folder = try Fixtures.scratchDirectory().path
        let fixtures = Fixtures.packageRoot.appendingPathComponent("Tests/MolecularDynamicsTests/Fixtures").path
        try "model: {model: painn, cutoff: 4.0, n_atom_basis: 32, n_interactions: 2, n_rbf: 10}\n".write(toFile: folder + "/painn.yaml", atomically: true, encoding: .utf8)
        let one = try String(contentsOfFile: Self.dataset, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).prefix(11)
        try (one.joined(separator: "\n") + "\n").write(toFile: folder + "/one.extxyz", atomically: true, encoding: .utf8)
        let result = try CLI.run(["mlff-predict", "--weights", fixtures + "/schnetpack_painn.safetensors", "--config", folder + "/painn.yaml",
                                  "--input", folder + "/one.extxyz", "--output", folder + "/out.extxyz"])
        #expect(result.status == 0, "\(result.standardError)")
        let reference = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: fixtures + "/schnetpack_reference.json"))) as! [String: Any]
        let expected = ((reference["outputs"] as! [String: Any])["painn/ethanol"] as! [String: Any])["energy"] as! Double
        let line = try String(contentsOfFile: folder + "/out.extxyz", encoding: .utf8).split(separator: "\n")[1]
        let energy = Double(line.split(separator: " ").first { $0.hasPrefix("energy=") }!.dropFirst(7))!
        #expect(abs(energy - expected) <= 1e-5 * abs(expected), "\(energy) vs schnetpack \(expected)")
        let neither = try CLI.run(["mlff-predict", "--input", folder + "/one.extxyz", "--output", folder + "/x.extxyz"])
        #expect(neither.status != 0 && neither.standardError.contains("give --checkpoint or --weights"))
    }

    @Test("bad frames: truncated, a row without its force columns, mismatched npz shapes, overlapping atoms; one line each, nothing written")
    func badInput() throws {
        let folder = try Fixtures.scratchDirectory().path
        let lines = try String(contentsOfFile: Self.dataset, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).prefix(33).map(String.init)
        try (lines.prefix(30).joined(separator: "\n") + "\n").write(toFile: folder + "/truncated.extxyz", atomically: true, encoding: .utf8)
        var noForces = lines
        noForces[15] = noForces[15].split(separator: " ", omittingEmptySubsequences: true).prefix(4).joined(separator: " ")  // frame 1, its third atom
        try (noForces.joined(separator: "\n") + "\n").write(toFile: folder + "/noforces.extxyz", atomically: true, encoding: .utf8)
        var overlapping = lines
        overlapping[14] = overlapping[13]  // frame 1: atom 1 on top of atom 0
        try (overlapping.joined(separator: "\n") + "\n").write(toFile: folder + "/overlap.extxyz", atomically: true, encoding: .utf8)
        _ = try Subprocess.python("""
            import sys, numpy as np
            np.savez(sys.argv[1], z=np.array([6, 1]), R=np.zeros((3, 2, 3)), E=np.zeros(3), F=np.zeros((3, 3, 3)))
            """, arguments: [folder + "/mismatched.npz"])
        let cases: [(String, String)] = [
            ("truncated.extxyz", "truncated.extxyz:23: frame 2: the frame declares 9 atoms but the file ends after 6 of them"),
            ("noforces.extxyz", "noforces.extxyz:16: frame 1: 4 columns, but Properties=species:S:1:pos:R:3:forces:R:3 needs 7"),
            ("overlap.extxyz", "overlap.extxyz: frame 1 (line 12): atoms 0 and 1 overlap (distance 0)"),
            ("mismatched.npz", "mismatched.npz: array 'F': shape [3, 3, 3], expected [3, 2, 3]"),
        ]
        // A file that does not read converts to nothing.
        for file in ["truncated.extxyz", "mismatched.npz"] {
            let convert = try CLI.run(["mlff-convert", "--input", folder + "/" + file, "--output", folder + "/\(file).h5"])
            #expect(convert.status == 1 && convert.standardError.split(separator: "\n").count == 1, "\(file): \(convert.standardError)")
            #expect(!FileManager.default.fileExists(atPath: folder + "/\(file).h5"))
        }
        // The training path checks references and geometry: each problem names the file and the frame.
        for (file, message) in cases {
            try "seed: 1\ndata: {path: \(folder)/\(file), num_train: 3, num_val: 0, batch_size: 1}\nmodel: {model: schnet, n_atom_basis: 8}\ntrainer: {max_epochs: 1}\n"
                .write(toFile: folder + "/train.yaml", atomically: true, encoding: .utf8)
            let result = try CLI.run(["mlff-train", "--config", folder + "/train.yaml", "--run-dir", folder + "/run-\(file)"])
            #expect(result.status == 1 && result.standardError.split(separator: "\n").count == 1 && result.standardError.contains(message),
                    "\(file): \(result.standardError)")
        }
    }
}
