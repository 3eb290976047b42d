// ClimaX climate projection settings: upstream's configs/climate_projection.yaml (LightningCLI
// sections seed_everything, trainer, model with net.init_args of ClimaXClimateBench, data of
// ClimateBenchDataModule), read as written.
import ClimateForecasting
import Foundation
import TensorIO

public struct ClimateBenchSettings: Sendable, RecipePaths {
    /// Seed, trainer and optimiser keys, shared with ClimaX fine-tuning (its data keys unused).
    public var common: ClimaXSettings
    public var net: ClimaXConfiguration
    public var timeHistory = 10
    public var outVariable = "tas"
    public var variables = SyntheticClimateBench.inputVariables
    public var trainSimulations = SyntheticClimateBench.trainSimulations
    public var testSimulations = SyntheticClimateBench.testSimulations
    public var trainRatio = 0.9
    public var batchSize = 1
    public var rootDir: String

    public var baseDirectory: String { common.baseDirectory }
    public var json: String { common.json }

    /// Reads a climate-projection YAML; unknown keys fail naming the closest known one.
    public static func load(from path: String) throws -> ClimateBenchSettings {
        var top = try RecipeSection.load(path, expecting: "the sections seed_everything, trainer, model and data")
        guard var data = try top.section("data") else { throw FileError(file: path, key: "key 'data'", message: "is required") }
        guard let root = try data.string("root_dir") else { throw data.problem("root_dir", "is required") }
        var common = ClimaXSettings(rootDir: root, variables: [], outVariables: [])
        common.baseDirectory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        // Upstream's defaults for this task (climate_projection/module.py).
        (common.beta2, common.warmupSteps, common.scheduleSteps, common.patience) = (0.999, 60, 600, 5)
        if let seed = try top.int("seed_everything", minimum: 0) { common.seed = UInt64(seed) }
        if var trainer = try top.section("trainer") { try ClimaXSettings.readTrainer(&trainer, into: &common, monitor: "val/w_mse") }
        var s = ClimateBenchSettings(common: common, net: .released, rootDir: root)
        var configuration = ClimaXConfiguration.released
        configuration.defaultVariables = SyntheticClimateBench.inputVariables
        var modelOutVariable: String?, modelHistory: Int?
        if var model = try top.section("model") {
            try ClimaXSettings.readOptimiser(&model, into: &s.common)
            if s.common.pretrainedPath != nil {
                throw model.problem("pretrained_path", "is not read for climate projection yet: leave it empty (the encoder starts from scratch)")
            }
            if var net = try model.section("net") {
                if let name = try net.string("class_path"), !name.hasSuffix("ClimaXClimateBench") {
                    throw net.problem("class_path", "must name climax.climate_projection.arch.ClimaXClimateBench")
                }
                if var args = try net.section("init_args") {
                    configuration.defaultVariables = try args.strings("default_vars") ?? configuration.defaultVariables
                    modelOutVariable = try args.string("out_vars")
                    modelHistory = try args.int("time_history", minimum: 1)
                    s.outVariable = modelOutVariable ?? s.outVariable
                    s.timeHistory = modelHistory ?? s.timeHistory
                    try ClimaXSettings.readArchitecture(&args, into: &configuration)
                    _ = try args.bool("parallel_patch_embed")
                    if try args.bool("freeze_encoder") == true {
                        throw args.problem("freeze_encoder", "freezes a pretrained encoder, and pretrained_path is not read for projection yet: set it false")
                    }
                    try args.finish()
                }
                try net.finish()
            }
            try model.finish()
        }
        let problems = configuration.problems()
        guard problems.isEmpty else { throw FileError(file: path, key: "model.net.init_args", message: problems.joined(separator: "; ")) }
        s.net = configuration
        // The network's time axis and the data windows must agree: upstream's config sets both.
        if let history = try data.int("history", minimum: 1) {
            if let modelHistory, modelHistory != history {
                throw data.problem("history", "is \(history) but model.net.init_args.time_history is \(modelHistory): they must be equal")
            }
            s.timeHistory = history
        }
        s.trainSimulations = try data.strings("list_train_simu") ?? s.trainSimulations
        s.testSimulations = try data.strings("list_test_simu") ?? s.testSimulations
        s.variables = try data.strings("variables") ?? s.variables
        if case .failure(let error) = configuration.variableIndices(s.variables) { throw data.problem("variables", "\(error)") }
        if let out = try data.string("out_variables") {
            guard SyntheticClimateBench.outputVariables.contains(out) else {
                throw data.problem("out_variables", "'\(out)' is not one of \(SyntheticClimateBench.outputVariables.joined(separator: ", "))")
            }
            if let modelOutVariable, modelOutVariable != out {
                throw data.problem("out_variables", "is '\(out)' but model.net.init_args.out_vars is '\(modelOutVariable)': they must be equal")
            }
            s.outVariable = out
        }
        guard SyntheticClimateBench.outputVariables.contains(s.outVariable) else {
            throw data.problem("out_variables", "'\(s.outVariable)' is not one of \(SyntheticClimateBench.outputVariables.joined(separator: ", "))")
        }
        s.trainRatio = try data.double("train_ratio") ?? s.trainRatio
        guard s.trainRatio > 0 && s.trainRatio < 1 else { throw data.error("train_ratio", expected: "a fraction between 0 and 1") }
        s.batchSize = try data.int("batch_size", minimum: 1) ?? s.batchSize
        _ = try data.int("num_workers", minimum: 0)
        _ = try data.bool("pin_memory")
        try data.finish()
        try top.finish()
        s.common.json = top.json
        return s
    }
}
