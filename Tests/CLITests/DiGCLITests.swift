// scizoo dig-train and dig-sample on the bundled alanine-dipeptide MD frames: training resumes bit for
// bit, samples are written and compared with held-out MD (divergences, picture, report), and bad
// recipes or frames that do not match the molecule stop with one line naming the place.
import Foundation
import Testing
import TestSupport

@Suite("scizoo dig-*")
struct DiGCLITests {
    static func recipe(in folder: String, smiles: String = "CC(=O)N[C@@H](C)C(=O)NC", torsions: String = "{phi: [1, 3, 4, 6], psi: [3, 4, 6, 8]}") throws -> String {
        let data = Fixtures.packageRoot.appendingPathComponent("Datasets/dig").path
        let text = """
            seed: 2
            data: {smiles: "\(smiles)", train: \(data)/alanine_dipeptide_1.extxyz, validation_fraction: 0.1, batch_size: 16}
            model: {encoder_layers: 1, encoder_embed_dim: 16, encoder_ffn_embed_dim: 16, encoder_attention_heads: 4, num_3d_bias_kernel: 8, dropout: 0.0}
            diffusion: {num_diffusion_timesteps: 50, diffusion_sampling: ddim, ddim_steps: 5, ddim_eta: 1.0}
            task: {lr: 1.0e-3, warmup_updates: 2}
            trainer: {max_epoch: 1, max_update: 12, validate_interval_updates: 6, log_interval: 3}
            evaluation: {reference: \(data)/alanine_dipeptide_3.extxyz, torsions: \(torsions)}
            """
        let path = folder + "/dig-\(abs(smiles.hashValue ^ torsions.hashValue)).yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("train, stop and resume bit for bit; sample, compare with held-out MD and draw; bad recipes refused")
    func trainResumeSample() throws {
        let folder = try Fixtures.scratchDirectory().path
        let config = try Self.recipe(in: folder)
        let whole = try CLI.run(["dig-train", "--config", config, "--run-dir", folder + "/whole", "--threads", "1"])
        #expect(whole.status == 0, "\(whole.standardError)")
        #expect(whole.standardOutput.contains("900 train, 100 valid frames"), "\(whole.standardOutput)")
        let first = try CLI.run(["dig-train", "--config", config, "--run-dir", folder + "/split", "--threads", "1", "--stop-at-step", "5"])
        let second = try CLI.run(["dig-train", "--config", config, "--run-dir", folder + "/split", "--threads", "1", "--resume"])
        #expect(first.status == 0 && second.status == 0, "\(first.standardError) \(second.standardError)")
        #expect(try CLI.metricsWithoutTiming(folder + "/whole", timing: "conformations_per_second") == CLI.metricsWithoutTiming(folder + "/split", timing: "conformations_per_second"))

        let sampled = try CLI.run(["dig-sample", "--checkpoint", folder + "/whole/checkpoints/best.h5", "--count", "24", "--batch", "10",
                                   "--output", folder + "/samples.extxyz", "--picture", folder + "/rama.png", "--report", folder + "/report.json"])
        #expect(sampled.status == 0, "\(sampled.standardError)")
        #expect(sampled.standardOutput.contains("24 conformations (DDIM, 5 steps, η 1.0)"), "\(sampled.standardOutput)")
        #expect(sampled.standardOutput.contains("DiG samples: Jensen–Shannon divergence to 1000 held-out frames"))
        #expect(sampled.standardOutput.contains("baseline (one conformer + 0.25 Å noise)"))
        let xyz = try String(contentsOfFile: folder + "/samples.extxyz", encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(xyz.filter { $0 == "10" }.count == 24)
        let png = try Data(contentsOf: URL(fileURLWithPath: folder + "/rama.png"))
        #expect(png.prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]))
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/report.json"))) as! [String: Any]
        let dig = report["dig"] as! [String: Double]
        #expect(dig.keys.sorted() == ["joint", "phi", "psi"] && dig.values.allSatisfy { (0...1).contains($0) })

        // Frames of another molecule, and a torsion of three atoms, stop before any training.
        let wrong = try CLI.run(["dig-train", "--config", try Self.recipe(in: folder, smiles: "CCO"), "--run-dir", folder + "/wrong"])
        #expect(wrong.status != 0 && wrong.standardError.contains("alanine_dipeptide_1.extxyz:1:") && wrong.standardError.contains("heavy atoms"), "\(wrong.standardError)")
        let three = try CLI.run(["dig-train", "--config", try Self.recipe(in: folder, torsions: "{phi: [1, 3, 4]}"), "--run-dir", folder + "/three"])
        #expect(three.status != 0 && three.standardError.contains("phi") && three.standardError.contains("four different heavy-atom indices"), "\(three.standardError)")
    }
}
