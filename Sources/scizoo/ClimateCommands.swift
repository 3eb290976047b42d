// Climate commands: make the synthetic dataset, convert grids to the ClimaX HDF5 layout, score baselines.
import ArgumentParser
import ClimateForecasting
import Foundation
import Kernels
import ParallelRuntime
import Recipes

struct ClimateSynth: SciZooCommand {
    static let configuration = CommandConfiguration(
        commandName: "climate-synth",
        abstract: "Write the synthetic atmosphere, 5.625° or finer (hourly, train/val/test shards in the ClimaX HDF5 layout).",
        discussion: """
            Variables: geopotential_500, temperature_850, 2m_temperature, 10m_u/v_component_of_wind and the \
            constants land_sea_mask, orography, lattitude. The last fifth of the days is the test split, the \
            tenth before it validation. Deterministic for a given --seed and --days.
            """)

    @Option(help: "Output folder (gets train/, val/ and test/).") var output: String = "Datasets/climate"
    @Option(help: "Days to simulate (hourly frames).") var days: Int = 365
    @Option(help: "Days per shard file.") var shardDays: Int = 30
    @Option(help: "Random seed of the forcing.") var seed: UInt64 = 2026
    @Option(help: "Grid spacing in degrees: 5.625 (32×64), 2.8125 (64×128) or 1.40625 (128×256).") var grid: String = "5.625"

    func validate() throws {
        guard days >= 10 else { throw ValidationError("--days must be at least 10, got \(days)") }
        guard SyntheticAtmosphere.grids[grid] != nil else { throw ValidationError("--grid must be 5.625, 2.8125 or 1.40625, got \(grid)") }
        guard shardDays >= 1 else { throw ValidationError("--shard-days must be at least 1, got \(shardDays)") }
    }

    func execute(budget: ThreadBudget) throws {
        var atmosphere = SyntheticAtmosphere(days: days, seed: seed)
        atmosphere.shardDays = shardDays
        (atmosphere.height, atmosphere.width) = SyntheticAtmosphere.grids[grid]!
        let clock = ContinuousClock(), start = clock.now
        let files = try atmosphere.write(to: output)
        let (train, validation, test) = atmosphere.splitDays
        print(String(format: "wrote %d shards to %@ (%d train / %d val / %d test days, %d×%d, hourly) in %.1f s",
                     files.count, output, train, validation, test, atmosphere.height, atmosphere.width, (clock.now - start).inSeconds))
    }
}

struct ClimateBenchSynth: SciZooCommand {
    static let configuration = CommandConfiguration(
        commandName: "climatebench-synth",
        abstract: "Write a ClimateBench-shaped dataset (forcings → annual climate) made by a two-layer energy balance model.",
        discussion: """
            train_val/ gets ssp126, ssp370, ssp585, historical, hist-GHG and hist-aer, test/ ssp245, each as \
            inputs_<simulation>.h5 (CO2, CH4, SO2, BC) and outputs_<simulation>.h5 (tas, diurnal_temperature_range, \
            pr, pr90 anomalies per ensemble member). Stylised emission pathways, not the ScenarioMIP data: \
            see Docs/domains/climax.md.
            """)

    @Option(help: "Output folder (gets train_val/ and test/).") var output: String = "Datasets/climatebench"
    @Option(help: "Ensemble members per simulation.") var members: Int = 3
    @Option(help: "Random seed of the members' noise.") var seed: UInt64 = 2026
    @Option(help: "Grid: 5.625 (32×64, as ClimaX's ClimateBench files) or 11.25 (16×32).") var grid: String = "5.625"

    func validate() throws {
        guard members >= 1 else { throw ValidationError("--members must be at least 1, got \(members)") }
        guard ["5.625", "11.25"].contains(grid) else { throw ValidationError("--grid must be 5.625 or 11.25, got \(grid)") }
    }

    func execute(budget: ThreadBudget) throws {
        var bench = SyntheticClimateBench(seed: seed, coarsening: grid == "5.625" ? 1 : 2)
        bench.members = members
        let clock = ContinuousClock(), start = clock.now
        try bench.write(to: output)
        print(String(format: "wrote %d simulations to %@ (%d×%d, %d members) in %.1f s", SyntheticClimateBench.trainSimulations.count
                     + SyntheticClimateBench.testSimulations.count, output, bench.latitudes.count, bench.longitudes.count, members,
                     (clock.now - start).inSeconds))
    }
}

struct ClimateBaselines: SciZooCommand {
    static let configuration = CommandConfiguration(
        commandName: "climate-baselines",
        abstract: "Latitude-weighted RMSE and ACC of persistence and climatology on a split folder.")

    @Option(help: "Split folder of shards (e.g. Datasets/climate/test).") var data: String
    @Option(parsing: .upToNextOption, help: "Variables to score (either spelling).") var variables: [String] = ["geopotential_500", "temperature_850", "2m_temperature"]
    @Option(parsing: .upToNextOption, help: "Lead times in hours.") var leadHours: [Int] = [6, 24, 72, 120]

    func execute(budget: ThreadBudget) throws {
        print("variable                   lead   persistence RMSE (ACC)    climatology RMSE (ACC)   [RMSE: WeatherBench global]")
        for lead in leadHours {
            let dataset = try ForecastDataset(directory: data, variables: variables, outVariables: variables, leadHours: lead)
            for (name, scores) in try ForecastBaselines.evaluate(dataset).sorted(by: { $0.key < $1.key }) {
                print(name.padding(toLength: 26, withPad: " ", startingAt: 0) + String(format: " %4d h   %12.4g (%.3f)     %12.4g (%.3f)", lead,
                             scores.persistence.rmse(.global), scores.persistence.acc, scores.climatology.rmse(.global), scores.climatology.acc))
            }
        }
    }
}

struct ClimaXFinetune: TrainingCommand {
    static let configuration = CommandConfiguration(
        commandName: "climax-finetune",
        abstract: "Fine-tune ClimaX from a ClimaX YAML recipe (LightningCLI sections trainer, model, data).",
        discussion: """
            Reads data.root_dir/{train,val,test} shards (ClimaX HDF5 layout; scizoo climate-synth or climate-convert \
            write them). Outputs in --run-dir: metrics.jsonl, checkpoints/last.h5 and best.h5 (written atomically), \
            test_scores.json. Under `mpirun -np N` the ranks split every batch stream (data parallelism) and, with \
            --sequence-parallel-size P, every sample's tokens over groups of P ranks (Ulysses).
            """)

    @Option(help: "ClimaX YAML recipe.") var config: String
    @Option(help: "Run folder (default: the recipe's trainer.default_root_dir, else runs/climax).") var runDir: String?
    @Option(help: "Under mpirun: split every sample's tokens over this many ranks (Ulysses); the rest split batches.")
    var sequenceParallelSize: Int?
    @OptionGroup var training: TrainingRunOptions

    func execute(budget: ThreadBudget) throws {
        let (world, log) = try training.launch()
        do {
            let settings = try ClimaXSettings.load(from: config)
            let directory = runDir ?? settings.defaultRootDir.map { settings.resolve($0) } ?? "runs/climax"
            let groups = try training.processGroups(world: world, configuration: [settings.json, directory, "sp=\(sequenceParallelSize ?? 1)"],
                                                    sequenceParallelSize: sequenceParallelSize)
            log("thread budget: \(budget)" + (world.map { "; \($0.size) MPI rank(s)" } ?? ""))
            let trainer = ClimaXTrainer(settings: settings, runDirectory: directory, groups: groups, showsProgress: log.isActive, log: { log($0) })
            let summary = try trainer.run(resume: training.resume, stopAtStep: training.stopAtStep, skipNonFinite: training.skipNonFinite,
                                          activationCheckpointing: training.activationCheckpointing)
            log("trained \(summary.steps) steps" + (summary.stoppedEarly ? " (stopped early)" : "")
                + (summary.bestValidation.map { String(format: "; best val/w_rmse %.4g", $0) } ?? ""))
            log("checkpoint: \(summary.checkpoint)")
            log("metrics:    \(summary.metrics)")
        } catch {
            throw failOnRank("climax-finetune", error, world: world)
        }
    }
}

struct ClimaXProject: TrainingCommand {
    static let configuration = CommandConfiguration(
        commandName: "climax-project",
        abstract: "Train ClimaX for ClimateBench climate projection from upstream's climate_projection YAML (forcing histories → a climate field).",
        discussion: """
            Reads data.root_dir/train_val and test (inputs_<simulation> and outputs_<simulation>, .h5 or ClimateBench's \
            .nc; scizoo climatebench-synth writes a dataset). Outputs in --run-dir: metrics.jsonl, checkpoints/last.h5 \
            and best.h5, test_scores.json (NRMSE_s, NRMSE_g, NRMSE of the model and of a linear baseline).
            """)

    @Option(help: "Climate-projection YAML recipe.") var config: String
    @Option(help: "Run folder (default: the recipe's trainer.default_root_dir, else runs/climax-projection).") var runDir: String?
    @OptionGroup var training: TrainingRunOptions

    func execute(budget: ThreadBudget) throws {
        let (world, log) = try training.launch()
        do {
            let settings = try ClimateBenchSettings.load(from: config)
            let directory = runDir ?? settings.common.defaultRootDir.map { settings.resolve($0) } ?? "runs/climax-projection"
            let groups = try training.processGroups(world: world, configuration: [settings.json, directory], sequenceParallelSize: nil)
            log("thread budget: \(budget)")
            let trainer = ClimateBenchTrainer(settings: settings, runDirectory: directory, groups: groups, showsProgress: log.isActive, log: { log($0) })
            let summary = try trainer.run(resume: training.resume, stopAtStep: training.stopAtStep, skipNonFinite: training.skipNonFinite,
                                          activationCheckpointing: training.activationCheckpointing)
            log("trained \(summary.steps) steps" + (summary.bestValidation.map { String(format: "; best val/w_mse %.4g", $0) } ?? ""))
            log("checkpoint: \(summary.checkpoint)")
            log("metrics:    \(summary.metrics)")
        } catch {
            throw failOnRank("climax-project", error, world: world)
        }
    }
}

struct ClimaXForecast: SciZooCommand {
    static let configuration = CommandConfiguration(
        commandName: "climax-forecast",
        abstract: "Forecast with a fine-tuned ClimaX checkpoint: forecast HDF5, truth/forecast/error maps (PNG), per-lead scores.")

    @Option(help: "Checkpoint written by climax-finetune (checkpoints/best.h5 or last.h5).") var checkpoint: String
    @Option(help: "A split folder of shards or one grid file (ClimaX HDF5, FourCastNet HDF5 or netCDF-4).") var data: String
    @Option(parsing: .upToNextOption, help: "Lead times in hours (default: the one the model was trained for).") var leadHours: [Int] = []
    @Option(help: "Every N-th initial time of the data.") var stride: Int = 6
    @Option(help: "Variable drawn in the maps (default: the first output).") var variable: String?
    @Option(help: "Which of the chosen initial times the maps show.") var mapIndex: Int = 0
    @Option(help: "Iterative forecast: the model's lead N times, each forecast fed back as the next input (6h×N, 6hxN or N); scores per lead.")
    var rollout: String?
    @Option(help: "Output folder.") var output: String = "runs/climax/forecast"
    @OptionGroup var threadOptions: ThreadOptions
    var threads: Int? { threadOptions.threads }

    func validate() throws {
        if let rollout {
            guard ClimaXRollout.parse(rollout) != nil else { throw ValidationError("--rollout must be like 6h×4, 6hx4 or 4, got \(rollout)") }
            guard leadHours.isEmpty else { throw ValidationError("--rollout and --lead-hours exclude each other (a rollout's leads are its steps)") }
        }
    }

    func execute(budget: ThreadBudget) throws {
        print("thread budget: \(budget)")
        if let rollout, let (stepHours, steps) = ClimaXRollout.parse(rollout) {
            let report = try ClimaXRollout.run(checkpoint: checkpoint, data: data, stepHours: stepHours, steps: steps, stride: stride, output: output)
            print(report.table)
            print("scores: \(output)/scores.txt, \(output)/scores.json")
            return
        }
        let report = try ClimaXForecaster.run(checkpoint: checkpoint, data: data, leads: leadHours.isEmpty ? nil : leadHours, stride: stride,
                                              variable: variable, mapIndex: mapIndex, output: output)
        print(report.table)
        print("scores: \(output)/scores.txt")
    }
}

struct ClimateConvertCommand: SciZooCommand {
    static let configuration = CommandConfiguration(
        commandName: "climate-convert",
        abstract: "Write the ClimaX HDF5 layout from ClimaX .npz shards or from a WeatherBench netCDF-4 tree.",
        discussion: """
            --from npz: <input> is ClimaX's save_dir (train/ val/ test/ of {year}_{shard}.npz, normalize_mean.npz, \
            normalize_std.npz, lat.npy, lon.npy, {split}/climatology.npz); shards are fed unchanged. \
            --from netcdf: <input> holds one folder per variable of yearly *<year>*.nc files and constants.nc, as \
            WeatherBench's download; years split as upstream's nc2np_equally_era5.py (end year exclusive).
            """)

    enum Source: String, ExpressibleByArgument { case npz, netcdf }

    @Option(help: "npz or netcdf.") var from: Source
    @Option(help: "ClimaX save_dir (npz) or WeatherBench root (netcdf).") var input: String
    @Option(help: "Output folder (gets train/, val/, test/).") var output: String
    @Option(parsing: .upToNextOption, help: "netcdf: variable folders to read.") var variables: [String] = [
        "2m_temperature", "10m_u_component_of_wind", "10m_v_component_of_wind", "geopotential", "temperature", "relative_humidity",
        "specific_humidity", "u_component_of_wind", "v_component_of_wind"]
    @Option(parsing: .upToNextOption, help: "netcdf: pressure levels to keep (default: WeatherBench's 13).") var levels: [Int] = []
    @Option var startTrainYear = 1979
    @Option var startValYear = 2016
    @Option var startTestYear = 2017
    @Option(help: "Exclusive.") var endYear = 2019
    @Option var numShards = 8
    @Option(help: "Hours kept per year (upstream drops a leap year's last day: 8760).") var hoursPerYear = 8760

    func validate() throws {
        guard startTrainYear < startValYear, startValYear < startTestYear, startTestYear < endYear else {
            throw ValidationError("years must satisfy --start-train-year < --start-val-year < --start-test-year < --end-year")
        }
    }

    func execute(budget: ThreadBudget) throws {
        let files: [String]
        switch from {
        case .npz: files = try ClimateConvert.fromNpz(root: input, output: output) { print($0) }
        case .netcdf:
            var years = ClimateConvert.Years()
            (years.startTrain, years.startValidation, years.startTest, years.end) = (startTrainYear, startValYear, startTestYear, endYear)
            (years.shards, years.hoursPerYear) = (numShards, hoursPerYear)
            files = try ClimateConvert.fromNetCDF(root: input, output: output, variables: variables, levels: levels.isEmpty ? nil : levels,
                                                  years: years) { print($0) }
        }
        print("wrote \(files.count) shard(s) under \(output)")
    }
}
