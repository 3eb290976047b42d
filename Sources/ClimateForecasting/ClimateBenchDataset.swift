// ClimateBench's projection data (upstream climate_projection/dataset.py and datamodule.py, after
// ClimateBench's prep_input_data notebook): per simulation, yearly forcing maps (CO2 and CH4 as
// global numbers spread over the grid, SO2 and BC maps) and the ensemble-mean response; samples are
// windows of `history` years with the response of the last. Scenarios are read after `historical`.
//
// Beyond upstream: every scenario skips the windows that end in the historical years (upstream
// skips them only for the first two simulations listed, so ssp585 repeats historical's windows);
// the train/validation split is seeded (upstream's is unseeded); a test folder without the
// historical files borrows train_val's.
import Foundation
import TensorCore
import TensorIO

public final class ClimateBenchDataset {
    /// Yearly data of one simulation, historical years first for a scenario.
    public struct Simulation {
        public let name: String
        public let years: [Int]
        /// `[Y, V, H, W]` in the order of `variables`.
        public let inputs: [Float]
        /// `[Y, H, W]`, the ensemble mean (pr and pr90 in mm/day).
        public let target: [Float]
        /// The first window end (index into `years`) this simulation contributes.
        public let firstEnd: Int
    }

    public let variables: [String], outVariable: String
    public let history: Int
    public let latitudes: [Double], longitudes: [Double]
    public let simulations: [Simulation]
    /// (simulation, index of the window's last year).
    public let windows: [(simulation: Int, end: Int)]

    public var height: Int { latitudes.count }
    public var width: Int { longitudes.count }

    /// Reads `simulations` from `folder` (`inputs_<name>.h5|.nc`, `outputs_<name>.h5|.nc`).
    public init(folder: String, simulations names: [String], variables: [String], outVariable: String, history: Int) throws {
        (self.variables, self.outVariable, self.history) = (variables, outVariable, history)
        var grid: (lat: [Double], lon: [Double], file: String)?
        var loaded: [Simulation] = []
        for name in names {
            var parts = [name]
            if name.hasPrefix("ssp") { parts.insert("historical", at: 0) }
            var years: [Int] = [], inputs: [Float] = [], target: [Float] = []
            for part in parts {
                let (inputPath, outputPath) = try Self.files(folder: folder, simulation: part)
                let read = try Self.read(inputs: inputPath, outputs: outputPath, variables: variables, outVariable: outVariable)
                if let grid, grid.lat != read.latitudes || grid.lon != read.longitudes {
                    throw FileError(file: outputPath, message: "grid differs from \(grid.file)'s (\(read.latitudes.count)×\(read.longitudes.count))")
                }
                grid = grid ?? (read.latitudes, read.longitudes, outputPath)
                years += read.years; inputs += read.inputs; target += read.target
            }
            // Windows end at index history − 1 or later; a scenario's end in its own years.
            let historical = name.hasPrefix("ssp") ? years.firstIndex { $0 >= SyntheticClimateBench.scenarioYears.lowerBound } ?? 0 : 0
            let first = Swift.max(history - 1, historical)
            guard first < years.count else {
                throw FileError(file: folder, message: "simulation \(name) has \(years.count) years, fewer than a window of \(history)")
            }
            loaded.append(Simulation(name: name, years: years, inputs: inputs, target: target, firstEnd: first))
        }
        guard let grid else { throw FileError(file: folder, message: "no simulations listed") }
        (latitudes, longitudes, simulations) = (grid.lat, grid.lon, loaded)
        windows = loaded.indices.flatMap { s in (loaded[s].firstEnd..<loaded[s].years.count).map { (s, $0) } }
    }

    /// The input and output files of a simulation; historical may come from a sibling train_val/.
    static func files(folder: String, simulation: String) throws -> (String, String) {
        let candidates = [folder] + (simulation == "historical" ? [URL(fileURLWithPath: folder).deletingLastPathComponent().path + "/train_val"] : [])
        for directory in candidates {
            for suffix in [".h5", ".nc"] {
                let inputs = "\(directory)/inputs_\(simulation)\(suffix)", outputs = "\(directory)/outputs_\(simulation)\(suffix)"
                if FileManager.default.fileExists(atPath: inputs) && FileManager.default.fileExists(atPath: outputs) { return (inputs, outputs) }
            }
        }
        throw FileError(file: folder, message: "no inputs_\(simulation).h5/.nc with outputs_\(simulation).h5/.nc here"
                        + (simulation == "historical" ? " or in ../train_val" : "") + " (scizoo climatebench-synth writes a dataset)")
    }

    /// One simulation's years, inputs `[Y, V, H, W]` and ensemble-mean target `[Y, H, W]`.
    static func read(inputs inputPath: String, outputs outputPath: String, variables: [String], outVariable: String) throws
        -> (years: [Int], latitudes: [Double], longitudes: [Double], inputs: [Float], target: [Float]) {
        let inputFile = try HDF5File(path: inputPath), outputFile = try HDF5File(path: outputPath)
        defer { try? inputFile.close(); try? outputFile.close() }
        let inputRoot = try inputFile.root, outputRoot = try outputFile.root
        func coordinate(_ root: HDF5Group, _ names: [String], _ path: String) throws -> [Double] {
            guard let name = names.first(where: root.contains) else { throw FileError(file: path, message: "no \(names.joined(separator: " or ")) coordinate") }
            return try root.dataset(name).read(as: Double.self)
        }
        let latitudes = try coordinate(outputRoot, ["lat", "latitude"], outputPath), longitudes = try coordinate(outputRoot, ["lon", "longitude"], outputPath)
        let years = try coordinate(outputRoot, ["time"], outputPath).map { Int($0.rounded()) }
        let (t, cells) = (years.count, latitudes.count * longitudes.count)
        // The response: [T, member, H, W] averaged over members, or [T, H, W]; precipitation from kg m⁻² s⁻¹ to mm/day.
        guard outputRoot.contains(outVariable) else {
            throw FileError(file: outputPath, message: "no variable '\(outVariable)' (ClimateBench's outputs: tas, diurnal_temperature_range, pr, pr90)")
        }
        let dataset = try outputRoot.dataset(outVariable), shape = try dataset.shape
        guard shape.first == t, shape.dropFirst().reduce(1, *) % cells == 0, shape.suffix(2) == [latitudes.count, longitudes.count] else {
            throw FileError(file: outputPath, key: "variable '\(outVariable)'", message: "shape \(shape), expected [\(t), (member,) \(latitudes.count), \(longitudes.count)]")
        }
        let members = shape.dropFirst().reduce(1, *) / cells, scale: Float = outVariable.hasPrefix("pr") ? 86_400 : 1
        let raw = try dataset.read(as: Float.self)
        var target = [Float](repeating: 0, count: t * cells)
        for year in 0..<t {
            for m in 0..<members {
                let base = (year * members + m) * cells
                for c in 0..<cells { target[year * cells + c] += raw[base + c] * scale / Float(members) }
            }
        }
        try checkFinite(raw, file: outputPath, name: outVariable)
        // The forcings: a global series spread over the grid, or a map per year.
        var inputs = [Float](repeating: 0, count: t * variables.count * cells)
        for (v, name) in variables.enumerated() {
            guard inputRoot.contains(name) else { throw FileError(file: inputPath, message: "no forcing '\(name)' (ClimateBench's: CO2, SO2, CH4, BC)") }
            let forcing = try inputRoot.dataset(name), values = try forcing.read(as: Float.self), forcingShape = try forcing.shape
            guard forcingShape.first == t, values.count == t || values.count == t * cells else {
                throw FileError(file: inputPath, key: "variable '\(name)'", message: "shape \(forcingShape), expected [\(t)] or [\(t), \(latitudes.count), \(longitudes.count)]")
            }
            try checkFinite(values, file: inputPath, name: name)
            for year in 0..<t {
                let base = (year * variables.count + v) * cells
                for c in 0..<cells { inputs[base + c] = values.count == t ? values[year] : values[year * cells + c] }
            }
        }
        return (years, latitudes, longitudes, inputs, target)
    }

    /// The first non-finite value of a dataset stops the run, naming the file, variable and flat index.
    static func checkFinite(_ values: [Float], file: String, name: String) throws {
        guard let index = values.firstIndex(where: { !$0.isFinite }) else { return }
        throw FileError(file: file, key: "variable '\(name)'", message: "\(values[index]) at flat index \(index)")
    }

    /// Window indices split into training and validation: a seeded permutation, the first
    /// `trainRatio` of it for training (upstream's split_train_val, seeded).
    public func split(trainRatio: Double, seed: UInt64) -> (train: [Int], validation: [Int]) {
        var generator = RandomGenerator(seed: seed)
        let order = generator.permutation(windows.count), cut = Int(trainRatio * Double(windows.count))
        return (Array(order[..<cut]), Array(order[cut...]))
    }

    /// Mean and standard deviation of each input variable over `windows` (every year of every
    /// window, as upstream's statistics over the stacked windows).
    public func statistics(of chosen: [Int]) -> (mean: [Double], std: [Double]) {
        let (v, cells) = (variables.count, height * width)
        var sums = [Double](repeating: 0, count: v), squares = sums, count = 0.0
        for index in chosen {
            let (s, end) = windows[index], inputs = simulations[s].inputs
            for year in (end - history + 1)...end {
                for j in 0..<v {
                    let base = (year * v + j) * cells
                    for c in 0..<cells { let x = Double(inputs[base + c]); sums[j] += x; squares[j] += x * x }
                }
            }
            count += Double(history * cells)
        }
        let mean = sums.map { $0 / Swift.max(1, count) }
        let std = zip(squares, mean).map { Swift.max(0, $0 / Swift.max(1, count) - $1 * $1).squareRoot() }
        return (mean, std)
    }

    /// Normalised inputs `[B, T, V, H, W]` and targets `[B, 1, H, W]` (physical units, as upstream).
    public func batch(_ indices: [Int], mean: [Double], std: [Double]) -> (inputs: Tensor, targets: Tensor) {
        let (v, cells) = (variables.count, height * width)
        var inputs = [Float](), targets = [Float]()
        inputs.reserveCapacity(indices.count * history * v * cells)
        for index in indices {
            let (s, end) = windows[index], simulation = simulations[s]
            for year in (end - history + 1)...end {
                for j in 0..<v {
                    let base = (year * v + j) * cells, m = Float(mean[j]), scale = Float(1 / Swift.max(std[j], 1e-12))
                    for c in 0..<cells { inputs.append((simulation.inputs[base + c] - m) * scale) }
                }
            }
            targets += target(of: index)
        }
        return (Tensor(inputs, shape: [indices.count, history, v, height, width]), Tensor(targets, shape: [indices.count, 1, height, width]))
    }

    /// The response map `[H·W]` window `index` predicts (its last year's).
    public func target(of index: Int) -> ArraySlice<Float> {
        let (s, end) = windows[index], cells = height * width
        return simulations[s].target[(end * cells)..<((end + 1) * cells)]
    }

    /// The year each window predicts.
    public func year(of index: Int) -> Int { simulations[windows[index].simulation].years[windows[index].end] }
}
