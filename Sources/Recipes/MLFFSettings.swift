// The force-field recipe (`scizoo mlff-train`, `mlff-predict`, `mlff-eval`): keys follow
// schnetpack's (cutoff, n_atom_basis, n_interactions, n_rbf, lr, batch_size, num_train, num_val,
// loss weights), grouped in data, model, task and trainer sections. Unknown keys name their line
// and the closest key; Docs/domains/mlff.md lists every key with its default.
import Foundation
import MolecularDynamics
import TensorCore
import TensorIO

public struct MLFFSettings: Sendable, RecipePaths {
    // data
    public var dataPath = ""
    public var numTrain = 1000, numVal = 100
    public var numTest: Int?
    /// Index files (rMD17's csv): train, validation and test frames instead of a seeded split.
    public var trainIndices: String?, valIndices: String?, testIndices: String?
    public var batchSize = 10
    // model
    public var model = "schnet"
    public var cutoff = 5.0
    public var nAtomBasis = 128, nInteractions = 3, nRBF = 20
    /// ViSNet's own (AI2BMD's names): attention heads, spherical-harmonic degree, neighbour limit.
    public var numHeads = 8, lmax = 2, maxNumNeighbors = 32
    public var dtype: DType = .float32
    /// Per-element reference energies (eV) added to the atomwise outputs, by element symbol.
    public var atomReferences: [String: Double] = [:]
    // task
    public var learningRate = 1e-3
    public var weightDecay = 0.0
    public var warmupSteps = 0
    public var energyWeight = 0.01, forcesWeight = 0.99
    /// EMA of the weights for validation, checkpoints' evaluation weights and prediction (0: off).
    public var emaDecay = 0.995
    /// ReduceLROnPlateau on the validation loss (schnetpack's: threshold 0): factor, patience and
    /// cooldown in validations, min_lr.
    public var plateauFactor = 0.5, plateauPatience = 75, plateauCooldown = 10, minLearningRate = 0.0
    // trainer
    public var maxEpochs = 100
    public var maxSteps = 0
    /// Validate every this many steps (0: every epoch).
    public var valCheckInterval = 0
    /// Early stopping on val/forces_mae after this many validations without improvement (0: never).
    public var patience = 0
    public var logEveryNSteps = 10
    public var gradientClipVal = 0.0
    public var seed: UInt64 = 0
    public var baseDirectory = "."
    /// The recipe as read, for checkpoints.
    public var json = "{}"

    public init() {}

    /// Reads a force-field recipe (YAML or JSON).
    public static func load(from path: String) throws -> MLFFSettings {
        var r = try RecipeSection.load(path, expecting: "a force-field recipe (sections data, model, task, trainer)")
        var s = MLFFSettings()
        s.baseDirectory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        s.json = r.json
        s.seed = UInt64(try r.int("seed", minimum: 0) ?? 0)
        guard var data = try r.section("data") else { throw r.problem("data", "is required (data.path names the frames)") }
        guard let dataPath = try data.string("path") else { throw data.problem("path", "is required: an .extxyz, MD17 .npz or mlff-convert .h5 file") }
        s.dataPath = dataPath
        s.numTrain = try data.int("num_train", minimum: 1) ?? s.numTrain
        s.numVal = try data.int("num_val", minimum: 0) ?? s.numVal
        s.numTest = try data.int("num_test", minimum: 0)
        s.trainIndices = try data.string("train_indices")
        s.valIndices = try data.string("val_indices")
        s.testIndices = try data.string("test_indices")
        if (s.trainIndices == nil) != (s.valIndices == nil) {
            throw data.problem(s.trainIndices == nil ? "val_indices" : "train_indices", "needs train_indices and val_indices together")
        }
        s.batchSize = try data.int("batch_size", minimum: 1) ?? s.batchSize
        try data.finish()

        if var model = try r.section("model") { try s.readModel(&model) }
        if var task = try r.section("task") {
            s.learningRate = try task.double("lr") ?? s.learningRate
            s.weightDecay = try task.double("weight_decay") ?? s.weightDecay
            s.warmupSteps = try task.int("warmup_steps", minimum: 0) ?? s.warmupSteps
            s.energyWeight = try task.double("energy_weight") ?? s.energyWeight
            s.forcesWeight = try task.double("forces_weight") ?? s.forcesWeight
            s.emaDecay = try task.double("ema_decay") ?? s.emaDecay
            s.plateauFactor = try task.double("lr_factor") ?? s.plateauFactor
            s.plateauPatience = try task.int("lr_patience", minimum: 0) ?? s.plateauPatience
            s.plateauCooldown = try task.int("lr_cooldown", minimum: 0) ?? s.plateauCooldown
            s.minLearningRate = try task.double("min_lr") ?? s.minLearningRate
            guard s.learningRate > 0 else { throw task.problem("lr", "must be positive, got \(s.learningRate)") }
            guard s.energyWeight >= 0, s.forcesWeight >= 0, s.energyWeight + s.forcesWeight > 0 else {
                throw task.problem("energy_weight", "energy_weight and forces_weight must be ≥ 0 and not both 0")
            }
            guard (0..<1).contains(s.emaDecay) else { throw task.problem("ema_decay", "must lie in [0, 1) (0: no EMA), got \(s.emaDecay)") }
            guard s.plateauFactor > 0 && s.plateauFactor < 1 else { throw task.problem("lr_factor", "must lie in (0, 1), got \(s.plateauFactor)") }
            try task.finish()
        }
        if var trainer = try r.section("trainer") {
            s.maxEpochs = try trainer.int("max_epochs", minimum: 1) ?? s.maxEpochs
            s.maxSteps = try trainer.int("max_steps", minimum: 0) ?? s.maxSteps
            s.valCheckInterval = try trainer.int("val_check_interval", minimum: 0) ?? s.valCheckInterval
            s.patience = try trainer.int("patience", minimum: 0) ?? s.patience
            s.logEveryNSteps = try trainer.int("log_every_n_steps", minimum: 1) ?? s.logEveryNSteps
            s.gradientClipVal = try trainer.double("gradient_clip_val") ?? s.gradientClipVal
            try trainer.finish()
        }
        try r.finish()
        return s
    }

    /// Only the recipe's model section (mlff-predict with schnetpack weights): the other sections may be there and are not read.
    public static func loadModel(from path: String) throws -> MLFFSettings {
        var r = try RecipeSection.load(path, expecting: "a force-field recipe with a model section")
        var s = MLFFSettings()
        s.baseDirectory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        guard var model = try r.section("model") else { throw r.problem("model", "is required: model, cutoff, n_atom_basis, n_interactions, n_rbf") }
        try s.readModel(&model)
        r.accept(["seed", "data", "task", "trainer"])
        try r.finish()
        return s
    }

    /// The model section alone.
    public mutating func readModel(_ model: inout RecipeSection) throws {
        self.model = try model.string("model", oneOf: ["schnet", "painn", "visnet"]) ?? self.model
        cutoff = try model.double("cutoff") ?? cutoff
        if self.model == "visnet" {
            // AI2BMD's names (schnetpack's are accepted too) and ViSNet's defaults.
            func either(_ ours: String, _ theirs: String) throws -> Int? {
                if model.contains(ours) && model.contains(theirs) { throw model.problem(theirs, "and '\(ours)' name the same setting; give one") }
                return try model.int(ours, minimum: 1) ?? model.int(theirs, minimum: 1)
            }
            nAtomBasis = try either("n_atom_basis", "embedding_dimension") ?? 256
            nInteractions = try either("n_interactions", "num_layers") ?? 9
            nRBF = try either("n_rbf", "num_rbf") ?? 32
            numHeads = try model.int("num_heads", minimum: 1) ?? numHeads
            lmax = try model.int("lmax", minimum: 1) ?? lmax
            maxNumNeighbors = try model.int("max_num_neighbors", minimum: 1) ?? maxNumNeighbors
            _ = try model.string("rbf_type", oneOf: ["expnorm"])
            _ = try model.string("activation", oneOf: ["silu"])
            _ = try model.string("attn_activation", oneOf: ["silu"])
            _ = try model.string("vecnorm_type", oneOf: ["none"])
            guard lmax <= 2 else { throw model.problem("lmax", "must be 1 or 2 (AI2BMD's Sphere), got \(lmax)") }
            guard nAtomBasis % numHeads == 0 else { throw model.problem("num_heads", "must divide the \(nAtomBasis) channels") }
        } else {
            nAtomBasis = try model.int("n_atom_basis", minimum: 1) ?? nAtomBasis
            nInteractions = try model.int("n_interactions", minimum: 1) ?? nInteractions
            nRBF = try model.int("n_rbf", minimum: 1) ?? nRBF
        }
        if let name = try model.string("dtype", oneOf: ["float32", "float64"]) { dtype = name == "float64" ? .float64 : .float32 }
        if var references = try model.section("atomrefs") {
            for key in references.keys {
                guard Elements.number(of: key) != nil else { throw references.problem(key, "is not an element symbol") }
                atomReferences[key] = try references.double(key)
            }
            try references.finish()
        }
        guard cutoff > 0 else { throw model.problem("cutoff", "must be a positive distance in Å, got \(cutoff)") }
        try model.finish()
    }

    /// The model the recipe describes, with seeded initial weights.
    public func makeModel() -> any AtomisticModel {
        switch model {
        case "visnet":
            var c = ViSNetConfiguration()
            (c.hiddenChannels, c.numLayers, c.numRBF, c.cutoff, c.dtype) = (nAtomBasis, nInteractions, nRBF, cutoff, dtype)
            (c.numHeads, c.lmax, c.maxNumNeighbors) = (numHeads, lmax, maxNumNeighbors)
            return ViSNet(c, seed: seed)
        case "painn":
            var c = PaiNNConfiguration()
            (c.nAtomBasis, c.nInteractions, c.nRBF, c.cutoff, c.dtype) = (nAtomBasis, nInteractions, nRBF, cutoff, dtype)
            return PaiNN(c, seed: seed)
        default:
            var c = SchNetConfiguration()
            (c.nAtomBasis, c.nInteractions, c.nRBF, c.cutoff, c.dtype) = (nAtomBasis, nInteractions, nRBF, cutoff, dtype)
            return SchNet(c, seed: seed)
        }
    }

    /// "schnet (F 128, 3 interactions, 20 RBF, cutoff 5 Å, float32)".
    public var modelDescription: String {
        "\(model) (F \(nAtomBasis), \(nInteractions) \(model == "visnet" ? "layers, \(numHeads) heads, lmax \(lmax)," : "interactions,") \(nRBF) RBF, "
            + "cutoff \(cutoff) Å, \(dtype == .float64 ? "float64" : "float32"))"
    }
}
