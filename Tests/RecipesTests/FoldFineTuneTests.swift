// OpenFold fine-tuning through TrainingRun: finite losses, gradients wherever a loss reaches, the
// parameters move on the production optimiser path, and a stopped run resumes.
import Foundation
import ProteinFolding
import Testing
import TestSupport
import TensorCore
@testable import Recipes

@Suite("OpenFold fine-tuning task")
struct FoldFineTuneTests {
    static let fixture = Fixtures.shared("openfold/2q2k_A")

    /// 2q2k chain A: its features from the fixture's MSAs, and its true structure.
    static func example() throws -> (RawFeatures, FoldingTarget) {
        let cif = fixture.appendingPathComponent("ground_truth/2q2k.cif").path
        let query = try AlignmentParsers.query(fastaAt: fixture.appendingPathComponent("2q2k_A.fasta").path)
        let target = try FoldingTarget(chain: try ProteinStructure.read(cif).chain("A"), sequence: query.sequence, file: cif)
        let raw = try RawFeatures(query: query, queryFile: "2q2k_A.fasta", alignmentFolder: fixture.appendingPathComponent("alignments/2q2k_A").path)
        return (raw, target)
    }

    @Test("two fine-tuning steps on a 2q2k crop: finite losses, gradients in every parameter that a loss reaches (EvoformerAttention's backward included), parameters move")
    func smokeFineTune() throws {
        let (raw, target) = try Self.example()
        var preset = try AlphaFoldPreset("model_3_ptm")
        (preset.evoformerBlocks, preset.extraBlocks, preset.structureIterations) = (1, 1, 2)
        var generator = RandomGenerator(seed: 21)
        let model = AlphaFold(preset: preset, generator: &generator)
        model.redrawZeroParameters(std: 0.02, seed: 22)
        let before = model.evoformer[0].msaAttentionRow.mha.linearQ.weight.value.doubles
        var settings = FoldFineTuneSettings()
        (settings.steps, settings.crop, settings.maxClusters, settings.maxExtra, settings.recycles) = (2, 12, 4, 4, 1)
        let directory = try Fixtures.scratchDirectory().path
        let task = FoldFineTuneTask(model: model, raw: raw, target: target, settings: settings, runDirectory: directory)
        var lines: [String] = []
        let outcome = try TrainingRun(task: task, runDirectory: directory) { lines.append($0) }.run()
        #expect(outcome.steps == 2 && outcome.trainLosses.allSatisfy { $0.1.isFinite && $0.1 > 0 })
        let records = try String(contentsOfFile: outcome.metrics, encoding: .utf8).split(separator: "\n")
            .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        #expect(records.count == 2)
        for record in records {
            for name in ["fape_backbone", "fape_sidechain", "distogram", "masked_msa"] {
                #expect(((record[name] as? Double) ?? -1) >= 0, "\(name) in \(record)")
            }
            // Only the heads without a loss here (aligned error, experimentally resolved) get none.
            #expect((record["parameters"] as! Double) - (record["parameters_with_gradient"] as! Double) == 4)
        }
        let missing = lines.first { $0.contains("no gradient (no loss reaches them here)") } ?? ""
        let names = missing.components(separatedBy: ": ").last!.components(separatedBy: ", ")
        #expect(names.count == 4 && names.allSatisfy { $0.hasPrefix("alignedErrorHead.") || $0.hasPrefix("experimentallyResolvedHead.") }, "\(missing)")
        #expect(model.evoformer[0].msaAttentionRow.mha.linearQ.weight.value.doubles != before)
    }

    @Test("activation checkpointing of the Evoformer and extra-MSA blocks: the same losses and parameters after two steps, bit for bit")
    func checkpointing() throws {
        let (raw, target) = try Self.example()
        var preset = try AlphaFoldPreset("model_3_ptm")
        (preset.evoformerBlocks, preset.extraBlocks, preset.structureIterations) = (2, 1, 2)
        func train(_ checkpoint: Bool) throws -> ([Double], [[Double]]) {
            var generator = RandomGenerator(seed: 21)
            let model = AlphaFold(preset: preset, generator: &generator)
            model.redrawZeroParameters(std: 0.02, seed: 22)
            var settings = FoldFineTuneSettings()
            (settings.steps, settings.crop, settings.maxClusters, settings.maxExtra, settings.recycles) = (2, 12, 4, 4, 1)
            let directory = try Fixtures.scratchDirectory().path
            let task = FoldFineTuneTask(model: model, raw: raw, target: target, settings: settings, runDirectory: directory)
            let outcome = try TrainingRun(task: task, runDirectory: directory) { _ in }.run(activationCheckpointing: checkpoint)
            #expect(model.checkpointsActivations == checkpoint)
            return (outcome.trainLosses.map(\.1), model.namedParameters().map { $0.1.value.doubles })
        }
        let plain = try train(false), checkpointed = try train(true)
        #expect(plain.0 == checkpointed.0 && plain.0.count == 2)
        #expect(plain.1 == checkpointed.1)
    }
}
