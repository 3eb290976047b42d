// The Distributional Graphormer recipe (`scizoo dig-train`, `dig-sample`): one molecule (its
// SMILES) and MD frames of it (extended XYZ, heavy atoms first in the SMILES's order, as RDKit
// writes a molecule with added hydrogens); the denoiser's model keys are Graphormer's, the
// diffusion keys upstream DiG's (`num_diffusion_timesteps`, `diffusion_beta_schedule`, …), the task
// and trainer keys fairseq's as in the Graphormer recipe. Docs/domains/sfm.md lists every key.
import Foundation
import MolecularGraphs
import TensorIO

public struct DiGSettings: Sendable {
    /// Model, task and trainer keys, the seed and the recipe's folder, shared with Graphormer.
    public var graphormer = GraphormerSettings()
    // data
    public var smiles = ""
    public var trainPaths: [String] = []
    /// Share of the training frames held out for the validation loss (the last frames of each file).
    public var validationFraction = 0.1
    public var batchSize = 32
    /// Turn each training conformation by a uniform random rotation.
    public var augmentRotations = true
    // diffusion
    public var timesteps = 5000
    public var betaSchedule = "sigmoid"
    public var betaStart = 1e-7, betaEnd = 2e-3
    public var sampling = "ddpm"
    public var ddimSteps = 50
    public var ddimEta = 0.0
    // evaluation
    /// Held-out MD frames the samples are compared with.
    public var referencePath: String?
    /// Named torsions as four heavy-atom indices (0-based, SMILES order), e.g. phi: [1, 3, 4, 6].
    public var torsions: [(name: String, atoms: [Int])] = []
    /// The baseline's noise (Å) around its one conformer.
    public var baselineNoise = 0.25

    public init() {}

    public func schedule() throws -> DiffusionSchedule {
        try DiffusionSchedule(kind: betaSchedule, steps: timesteps, betaStart: betaStart, betaEnd: betaEnd)
    }

    public static func load(from path: String) throws -> DiGSettings {
        let text = try RecipeSection.load(path, expecting: "a DiG recipe (sections data, model, diffusion, task, trainer, evaluation)")
        var s = try parse(text, file: path)
        s.graphormer.baseDirectory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        return s
    }

    /// The recipe from its parsed root (also how a checkpoint's stored recipe is read back).
    public static func parse(_ root: RecipeSection, file: String) throws -> DiGSettings {
        var r = root
        var s = DiGSettings()
        s.graphormer.json = r.json
        s.graphormer.seed = UInt64(try r.int("seed", minimum: 0) ?? 1)
        s.graphormer.model = GraphormerConfiguration.architecture("graphormer_slim")!
        s.graphormer.model.add3D = true
        s.graphormer.model.equivariantAtomHead = true
        s.graphormer.learningRate = 5e-4
        guard var data = try r.section("data") else { throw r.problem("data", "is required (data.smiles and data.train)") }
        guard let smiles = try data.string("smiles") else { throw data.problem("smiles", "is required: the molecule whose conformations are learned") }
        s.smiles = smiles
        if let list = try? data.strings("train") { s.trainPaths = list } else if let one = try data.string("train") { s.trainPaths = [one] }
        guard !s.trainPaths.isEmpty else { throw data.problem("train", "is required: one or more extended-XYZ files of MD frames") }
        s.validationFraction = try data.double("validation_fraction") ?? s.validationFraction
        guard (0..<1).contains(s.validationFraction) else { throw data.problem("validation_fraction", "must be in [0, 1), got \(s.validationFraction)") }
        s.batchSize = try data.int("batch_size", minimum: 1) ?? s.batchSize
        s.augmentRotations = try data.bool("augment_rotations") ?? s.augmentRotations
        try data.finish()
        if var model = try r.section("model") {
            // A free molecule has no preferred frame: the atom head turns with it unless the recipe says otherwise.
            let equivariant = model.contains("equivariant_atom_head") ? nil : true
            try s.graphormer.readModel(&model)
            s.graphormer.model.add3D = true
            if let equivariant { s.graphormer.model.equivariantAtomHead = equivariant }
        }
        if var diffusion = try r.section("diffusion") {
            s.timesteps = try diffusion.int("num_diffusion_timesteps", minimum: 2) ?? s.timesteps
            s.betaSchedule = try diffusion.string("diffusion_beta_schedule", oneOf: ["sigmoid", "linear", "quad", "const", "jsd"]) ?? s.betaSchedule
            s.betaStart = try diffusion.double("diffusion_beta_start") ?? s.betaStart
            s.betaEnd = try diffusion.double("diffusion_beta_end") ?? s.betaEnd
            guard s.betaStart > 0, s.betaEnd < 1, s.betaStart <= s.betaEnd else {
                throw diffusion.problem("diffusion_beta_end", "needs 0 < diffusion_beta_start ≤ diffusion_beta_end < 1, got \(s.betaStart) and \(s.betaEnd)")
            }
            s.sampling = try diffusion.string("diffusion_sampling", oneOf: ["ddpm", "ddim"]) ?? s.sampling
            s.ddimSteps = try diffusion.int("ddim_steps", minimum: 2) ?? s.ddimSteps
            s.ddimEta = try diffusion.double("ddim_eta") ?? s.ddimEta
            try diffusion.finish()
        }
        if var task = try r.section("task") { try s.graphormer.readTask(&task) }
        if var trainer = try r.section("trainer") { try s.graphormer.readTrainer(&trainer) }
        if var evaluation = try r.section("evaluation") {
            s.referencePath = try evaluation.string("reference")
            s.baselineNoise = try evaluation.double("baseline_noise") ?? s.baselineNoise
            if var torsions = try evaluation.section("torsions") {
                for key in torsions.keys {
                    guard let atoms = try torsions.ints(key), atoms.count == 4, Set(atoms).count == 4, atoms.allSatisfy({ $0 >= 0 }) else {
                        throw torsions.problem(key, "expects four different heavy-atom indices (0-based), e.g. [1, 3, 4, 6]")
                    }
                    s.torsions.append((key, atoms))
                }
                try torsions.finish()
            }
            try evaluation.finish()
        }
        try r.finish()
        return s
    }

    public func resolve(_ path: String) -> String { graphormer.resolve(path) }
}
