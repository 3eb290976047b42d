// Converters into the ClimaX HDF5 layout: from ClimaX's own `.npz` shards (nc2np_equally_era5.py
// output, fed unchanged) and from a WeatherBench netCDF-4 tree (the same split into yearly shards,
// training statistics pooled per year and per-split climatologies, as upstream computes them).
import Foundation
import TensorCore
import TensorIO

public enum ClimateConvert {
    /// Converts `root/{train,val,test}/*.npz` with `normalize_mean.npz`, `normalize_std.npz`,
    /// `lat.npy`, `lon.npy` and `{split}/climatology.npz` into `output/{split}/*.h5`. Shard
    /// `{year}_{k}.npz` of T frames gets times year·8760 + k·T + t hours (a 365-day calendar).
    @discardableResult
    public static func fromNpz(root: String, output: String, log: (String) -> Void = { _ in }) throws -> [String] {
        func npy(_ name: String) throws -> [Double] {
            let path = root + "/" + name
            guard let data = FileManager.default.contents(atPath: path) else { throw FileError(file: path, message: "missing (ClimaX writes it beside the splits)") }
            return try NumpyArray.parse([UInt8](data), file: path).tensor().cast(to: .float64).doubles
        }
        let latitudes = try npy("lat.npy"), longitudes = try npy("lon.npy")
        let means = try NumpyArchive(contentsOf: root + "/normalize_mean.npz"), stds = try NumpyArchive(contentsOf: root + "/normalize_std.npz")
        var written: [String] = []
        for split in ["train", "val", "test"] {
            let folder = root + "/" + split
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { continue }
            let climatologyPath = folder + "/climatology.npz"
            let climatology = FileManager.default.fileExists(atPath: climatologyPath) ? try NumpyArchive(contentsOf: climatologyPath) : nil
            try FileManager.default.createDirectory(atPath: output + "/" + split, withIntermediateDirectories: true)
            for name in names.filter({ $0.hasSuffix(".npz") && $0 != "climatology.npz" }).sorted() {
                let archive = try NumpyArchive(contentsOf: folder + "/" + name)
                var fields: [String: [Float]] = [:], frames = 1
                for key in archive.names {
                    let array = try archive.array(key)
                    let shape = array.shape
                    guard (shape.count == 4 && shape[1] == 1 || shape.count == 3), Array(shape.suffix(2)) == [latitudes.count, longitudes.count] else {
                        throw FileError(file: archive.path, key: "variable '\(key)'", message: "shape \(shape), expected [T, 1, \(latitudes.count), \(longitudes.count)]")
                    }
                    frames = shape[0]
                    fields[ClimateVariables.canonical(key)] = try array.tensor().cast(to: .float32).scalars(as: Float.self)
                }
                let stem = String(name.dropLast(4)), parts = stem.split(separator: "_")
                let year = parts.count == 2 ? Int(parts[0]) ?? 0 : 0, shard = parts.count == 2 ? Int(parts[1]) ?? 0 : 0
                let start = Double(year * 8760 + shard * frames)
                var grid = ClimateGrid(variables: archive.names.map(ClimateVariables.canonical), fields: fields, frames: frames, latitudes: latitudes,
                                       longitudes: longitudes, hours: (0..<frames).map { start + Double($0) }, source: archive.path)
                for key in archive.names {
                    let long = ClimateVariables.canonical(key)
                    if means.names.contains(key) { grid.mean[long] = try means.array(key).tensor().cast(to: .float64).doubles.first }
                    if stds.names.contains(key) { grid.std[long] = try stds.array(key).tensor().cast(to: .float64).doubles.first }
                    if let climatology, climatology.names.contains(key) {
                        grid.climatology[long] = try climatology.array(key).tensor().cast(to: .float32).scalars(as: Float.self)
                    }
                }
                for name in grid.variables { try GridReader.checkFinite(grid.fields[name]!, grid: grid, name: name) }
                let path = output + "/" + split + "/" + stem + ".h5"
                try grid.write(to: path)
                written.append(path)
                log("wrote \(path) (\(frames) frames, \(grid.variables.count) variables)")
            }
        }
        guard !written.isEmpty else { throw FileError(file: root, message: "no train/, val/ or test/ .npz shards found") }
        return written
    }

    /// Splits of a WeatherBench tree, as upstream's `nc2np_equally_era5.py` options name them.
    public struct Years: Sendable {
        public var startTrain = 1979, startValidation = 2016, startTest = 2017, end = 2019
        public var shards = 8
        /// Hours kept per year (upstream: 8760, dropping a leap year's last day).
        public var hoursPerYear = 8760
        public init() {}

        func split(of year: Int) -> String { year < startValidation ? "train" : year < startTest ? "val" : "test" }
    }

    /// Converts a WeatherBench netCDF tree (`root/<variable folder>/*<year>*.nc`, constants in
    /// `root/constants.nc` or `root/constants/*.nc`) into `output/{split}/{year}_{shard}.h5`.
    /// `variables` are folder names; pressure-level fields keep `levels` (default: every level of the
    /// file that is one of WeatherBench's 13). Statistics pool per-year means and variances of the
    /// training years (var = E[σ²] + E[μ²] − E[μ]², as upstream); climatology is each split's time mean.
    @discardableResult
    public static func fromNetCDF(root: String, output: String, variables: [String], levels: [Int]? = nil, years: Years = Years(),
                                  log: (String) -> Void = { _ in }) throws -> [String] {
        let fm = FileManager.default
        func yearFile(_ folder: String, _ year: Int) throws -> String {
            let directory = root + "/" + folder
            guard let names = try? fm.contentsOfDirectory(atPath: directory) else { throw FileError(file: directory, message: "no such variable folder") }
            guard let name = names.filter({ $0.hasSuffix(".nc") && $0.contains(String(year)) }).sorted().first else {
                throw FileError(file: directory, message: "no *\(year)*.nc file")
            }
            return directory + "/" + name
        }
        let constantsFile: String? = {
            if fm.fileExists(atPath: root + "/constants.nc") { return root + "/constants.nc" }
            let folder = root + "/constants"
            return ((try? fm.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".nc") }.sorted().first.map { folder + "/" + $0 }
        }()
        let allowedLevels = Set(levels ?? ClimateVariables.pressureLevels)
        func wanted(_ names: [String]) -> [String] {
            names.filter { name in ClimateVariables.splitLevel(name).map { allowedLevels.contains($0.level) } ?? true }
        }
        let dynamicFolders = variables.filter { $0 != "constants" }
        let constants = try constantsFile.map { try GridReader.read(path: $0) }
        let yearRange = years.startTrain..<years.end
        // Pass 1: per-year means and variances (training years) and per-split sums (climatology).
        var yearly: [String: [(mean: Double, variance: Double)]] = [:]
        var splitSums: [String: [String: [Double]]] = [:], splitCounts: [String: Int] = [:]
        var latitudes: [Double] = [], longitudes: [Double] = []
        for year in yearRange {
            let split = years.split(of: year)
            for folder in dynamicFolders {
                let path = try yearFile(folder, year)
                let names = wanted(try GridReader.variableNames(path: path))
                let grid = try GridReader.read(path: path, variables: names, timeRange: 0..<years.hoursPerYear)
                (latitudes, longitudes) = (grid.latitudes, grid.longitudes)
                let size = grid.height * grid.width
                for name in grid.variables {
                    let field = grid.fields[name]!
                    if split == "train" {
                        let mean = field.reduce(0.0) { $0 + Double($1) } / Double(field.count)
                        let variance = field.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(field.count)
                        yearly[name, default: []].append((mean, variance))
                    }
                    var sums = splitSums[split]?[name] ?? [Double](repeating: 0, count: size)
                    for t in 0..<grid.frames { for i in 0..<size { sums[i] += Double(field[t * size + i]) } }
                    splitSums[split, default: [:]][name] = sums
                }
            }
            splitCounts[split, default: 0] += years.hoursPerYear
        }
        var mean: [String: Double] = [:], std: [String: Double] = [:]
        for (name, stats) in yearly {
            let n = Double(stats.count)
            let meanOfMeans = stats.map(\.mean).reduce(0, +) / n
            let variance = stats.map(\.variance).reduce(0, +) / n + stats.map { $0.mean * $0.mean }.reduce(0, +) / n - meanOfMeans * meanOfMeans
            mean[name] = meanOfMeans
            std[name] = variance.squareRoot()
        }
        if let constants {
            for name in constants.variables {
                let values = constants.fields[name]!.map(Double.init), m = values.reduce(0, +) / Double(values.count)
                mean[name] = m
                std[name] = Swift.max(1e-12, (values.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(values.count)).squareRoot())
            }
        }
        // Pass 2: shards.
        var written: [String] = []
        let perShard = years.hoursPerYear / years.shards
        for year in yearRange {
            let split = years.split(of: year)
            try fm.createDirectory(atPath: output + "/" + split, withIntermediateDirectories: true)
            for shard in 0..<years.shards {
                let times = (shard * perShard)..<((shard + 1) * perShard)
                var fields: [String: [Float]] = [:], names: [String] = []
                for folder in dynamicFolders {
                    let path = try yearFile(folder, year)
                    let grid = try GridReader.read(path: path, variables: wanted(try GridReader.variableNames(path: path)), timeRange: times)
                    guard grid.latitudes == latitudes, grid.longitudes == longitudes else {
                        throw FileError(file: path, message: "grid differs from the other variables' (\(grid.height)×\(grid.width))")
                    }
                    for name in grid.variables { fields[name] = grid.fields[name]; names.append(name) }
                }
                if let constants {
                    for name in constants.variables { fields[name] = Array(constants.frame(name, 0)); names.append(name) }
                }
                var grid = ClimateGrid(variables: names, fields: fields, frames: times.count, latitudes: latitudes, longitudes: longitudes,
                                       hours: times.map { Double(year * 8760 + $0) }, source: root)
                grid.mean = mean
                grid.std = std
                for name in names {
                    if let sums = splitSums[split]?[name] { grid.climatology[name] = sums.map { Float($0 / Double(splitCounts[split]!)) } }
                    else if let constants, constants.fields[name] != nil { grid.climatology[name] = Array(constants.frame(name, 0)) }
                }
                let path = output + "/\(split)/\(year)_\(shard).h5"
                try grid.write(to: path)
                written.append(path)
                log("wrote \(path) (\(times.count) hours, \(names.count) variables)")
            }
        }
        return written
    }
}
