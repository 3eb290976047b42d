// Reads gridded fields from HDF5 in three layouts: ClimaX's (one dataset per variable), NVIDIA
// FourCastNet's (`fields [T, C, H, W]` with channel names), and WeatherBench netCDF-4 files
// (netCDF-4 is HDF5: variables are datasets over the dimensions time, level, lat, lon).
import Foundation
import TensorIO

public enum GridLayout: String, Sendable {
    case climax, fourCastNet = "fourcastnet", netCDF = "netcdf"
}

public enum GridReader {
    /// The layout of an open file: a `fields` dataset is FourCastNet's, a `stats` group or
    /// `layout = climax` attribute ClimaX's, anything else is read as netCDF.
    public static func layout(of file: HDF5File) throws -> GridLayout {
        let root = try file.root
        if root.contains("fields") { return .fourCastNet }
        if root.contains("stats") || (try? root.attribute("layout"))?.stringValue == "climax" { return .climax }
        return .netCDF
    }

    /// Reads `variables` (either spelling; nil: every variable in the file) with their grid.
    /// Errors name the file, the variable and, for NaNs, the first index holding one.
    /// `timeRange` limits a netCDF file's read to those time steps (the converter reads a year shard by shard).
    public static func read(path: String, variables: [String]? = nil, timeRange: Range<Int>? = nil) throws -> ClimateGrid {
        let file = try open(path)
        defer { try? file.close() }
        let (grid, stored) = try plan(file, variables: variables, timeRange: timeRange)
        return try readWhole(file, grid: grid, stored: stored)
    }

    /// `grid` with every frame of each planned field read from `file` (constants as one frame).
    static func readWhole(_ file: HDF5File, grid: ClimateGrid, stored: [String: StoredField]) throws -> ClimateGrid {
        var whole = grid
        for name in grid.variables {
            let field = stored[name]!
            whole.fields[name] = try field.read(file, frames: 0..<(field.constant ? 1 : grid.frames), grid: grid, name: name)
        }
        return whole
    }

    static func open(_ path: String) throws -> HDF5File {
        guard FileManager.default.fileExists(atPath: path) else { throw FileError(file: path, message: "no such file") }
        return try HDF5File(path: path)
    }

    /// A file's grid without its fields (coordinates, times, statistics, climatology), and where
    /// each requested variable's values lie.
    static func plan(_ file: HDF5File, variables: [String]?, timeRange: Range<Int>? = nil) throws -> (ClimateGrid, [String: StoredField]) {
        switch try layout(of: file) {
        case .climax: return try planClimaX(file, variables: variables)
        case .fourCastNet: return try planFourCastNet(file, variables: variables)
        case .netCDF: return try planNetCDF(file, variables: variables, timeRange: timeRange)
        }
    }

    /// Where one variable's values lie in its file and how they become physical values.
    struct StoredField {
        var dataset: String
        /// The dataset's shape: `[T, H, W]`, `[T, 1, H, W]`, `[T, C, H, W]` (channel or level `index`) or `[H, W]`.
        var shape: [Int]
        var index = 0
        /// One frame, served at every time.
        var constant = false
        /// The first stored time step of frame 0 (a netCDF file read from `timeRange`).
        var firstTime = 0
        /// CF packing and missing values (netCDF).
        var scale: Double?, offset: Double?, fill: Double?

        /// Frames `frames` as `[n, H, W]` physical values; a NaN or infinity is an error naming its index.
        func read(_ file: HDF5File, frames: Range<Int>, grid: ClimateGrid, name: String) throws -> [Float] {
            let dataset = try file.root.dataset(self.dataset)
            let (h, w) = (grid.height, grid.width)
            var values: [Float]
            switch shape.count {
            case 2: values = try dataset.read(as: Float.self)
            case 3: values = try dataset.read(as: Float.self, offset: [firstTime + frames.lowerBound, 0, 0], count: [frames.count, h, w])
            default: values = try dataset.read(as: Float.self, offset: [firstTime + frames.lowerBound, index, 0, 0], count: [frames.count, 1, h, w])
            }
            if scale != nil || offset != nil || fill != nil {
                values = values.map { value in
                    if let fill, Double(value) == fill || Float(fill) == value { return .nan }
                    return Float(Double(value) * (scale ?? 1) + (offset ?? 0))
                }
            }
            try GridReader.checkFinite(values, firstFrame: frames.lowerBound, grid: grid, name: name)
            return values
        }
    }

    /// The long names of the variables a file holds, without reading their values.
    public static func variableNames(path: String) throws -> [String] {
        let file = try HDF5File(path: path)
        defer { try? file.close() }
        switch try layout(of: file) {
        case .climax: return try climaXVariables(file)
        case .fourCastNet: return try channelNames(file)
        case .netCDF: return try netCDFVariables(file).map(\.name)
        }
    }

    // MARK: ClimaX layout

    static let coordinateNames: Set<String> = ["lat", "lon", "time", "levels", "stats", "climatology", "latitude", "longitude"]

    static func climaXVariables(_ file: HDF5File) throws -> [String] {
        let root = try file.root
        return try root.memberNames().filter { !coordinateNames.contains($0) && (try? root.kind(of: $0)) == .dataset }
    }

    static func planClimaX(_ file: HDF5File, variables requested: [String]?) throws -> (ClimateGrid, [String: StoredField]) {
        let root = try file.root, path = file.path
        let latitudes = try coordinate(file, ["lat", "latitude"])
        let longitudes = try coordinate(file, ["lon", "longitude"])
        let available = try climaXVariables(file)
        let names = try resolve(requested, available: available, file: path)
        let (h, w) = (latitudes.count, longitudes.count)
        var stored: [String: StoredField] = [:]
        var frames = 1
        for (dataset, name) in names {
            let shape = try root.dataset(dataset).shape
            let valid = (shape.count == 4 && shape[1] == 1 && shape[2] == h && shape[3] == w) || (shape.count == 3 && shape[1] == h && shape[2] == w)
            guard valid else {
                throw FileError(file: path, key: "variable '\(dataset)'", message: "shape \(shape), expected [T, 1, \(h), \(w)] or [T, \(h), \(w)] (lat × lon)")
            }
            if shape[0] > 1 {
                guard frames == 1 || frames == shape[0] else {
                    throw FileError(file: path, key: "variable '\(dataset)'", message: "\(shape[0]) time steps, other variables have \(frames)")
                }
                frames = shape[0]
            }
            stored[name] = StoredField(dataset: dataset, shape: shape, constant: shape[0] == 1)
        }
        let hours = root.contains("time") ? try root.dataset("time").read(as: Double.self) : (0..<frames).map(Double.init)
        guard hours.count == frames || frames == 1 else {
            throw FileError(file: path, key: "variable 'time'", message: "\(hours.count) times for \(frames) frames")
        }
        var grid = ClimateGrid(variables: names.map(\.1), fields: [:], frames: frames, latitudes: latitudes, longitudes: longitudes,
                               hours: hours, source: path)
        for (dataset, name) in names {
            if root.contains("stats") {
                let stats = try root.group("stats")
                if stats.contains("mean"), try stats.group("mean").contains(dataset) {
                    grid.mean[name] = try stats.group("mean").dataset(dataset).read(as: Double.self).first
                }
                if stats.contains("std"), try stats.group("std").contains(dataset) {
                    grid.std[name] = try stats.group("std").dataset(dataset).read(as: Double.self).first
                }
            }
            if root.contains("climatology"), try root.group("climatology").contains(dataset) {
                let field = try root.group("climatology").dataset(dataset).read(as: Float.self)
                guard field.count == h * w else {
                    throw FileError(file: path, key: "variable 'climatology/\(dataset)'", message: "\(field.count) values, expected [1, \(h), \(w)]")
                }
                grid.climatology[name] = field
            }
        }
        return (grid, stored)
    }

    // MARK: FourCastNet layout

    static func channelNames(_ file: HDF5File) throws -> [String] {
        let root = try file.root
        let fields = try root.dataset("fields")
        let shape = try fields.shape
        let count = shape.count == 4 ? shape[1] : 0
        for holder in [fields as HDF5Object, root] {
            for key in ["channels", "channel_names", "variables"] where holder.hasAttribute(key) {
                if case .strings(let names) = try holder.attribute(key) { return names.map(ClimateVariables.canonical) }
            }
        }
        if root.contains("channels") { return try root.dataset("channels").readStrings().map(ClimateVariables.canonical) }
        return (0..<count).map { "channel_\($0)" }
    }

    static func planFourCastNet(_ file: HDF5File, variables requested: [String]?) throws -> (ClimateGrid, [String: StoredField]) {
        let root = try file.root, path = file.path
        let dataset = try root.dataset("fields")
        let shape = try dataset.shape
        guard shape.count == 4 else { throw FileError(file: path, key: "variable 'fields'", message: "shape \(shape), expected [T, C, H, W]") }
        let (t, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let channels = try channelNames(file)
        guard channels.count == c else {
            throw FileError(file: path, key: "variable 'fields'", message: "\(channels.count) channel names for \(c) channels")
        }
        // FourCastNet files carry no coordinates: an odd row count is ERA5's north-to-south grid with
        // both poles, an even one the equiangular cell centres from the south (ClimaX's regridder).
        let latitudes: [Double]
        if root.contains("lat") {
            latitudes = try root.dataset("lat").read(as: Double.self)
        } else if h % 2 == 1 {
            latitudes = (0..<h).map { 90 - 180 * Double($0) / Double(h - 1) }
        } else {
            latitudes = (0..<h).map { -90 + 180 / Double(h) * (Double($0) + 0.5) }
        }
        let longitudes = root.contains("lon") ? try root.dataset("lon").read(as: Double.self) : (0..<w).map { 360 * Double($0) / Double(w) }
        let names = try resolve(requested, available: channels, file: path)
        var stored: [String: StoredField] = [:]
        for (channel, name) in names {
            stored[name] = StoredField(dataset: "fields", shape: shape, index: channels.firstIndex(of: channel)!)
        }
        let stepHours = (try? root.attribute("hours_per_step"))?.doubleValue ?? 6
        let hours = root.contains("time") ? try root.dataset("time").read(as: Double.self) : (0..<t).map { Double($0) * stepHours }
        return (ClimateGrid(variables: names.map(\.1), fields: [:], frames: t, latitudes: latitudes, longitudes: longitudes, hours: hours, source: path),
                stored)
    }

    // MARK: netCDF-4 (WeatherBench)

    /// A netCDF data variable: its dataset, and for pressure-level variables the level it exposes.
    struct NetCDFVariable {
        var name: String
        var dataset: String
        var levelIndex: Int?
    }

    static func netCDFVariables(_ file: HDF5File) throws -> [NetCDFVariable] {
        let root = try file.root
        let levels: [Int] = root.contains("level") ? try root.dataset("level").read(as: Double.self).map { Int($0.rounded()) }
            : root.contains("plev") ? try root.dataset("plev").read(as: Double.self).map { Int(($0 / 100).rounded()) } : []  // CMIP6 plev is in Pa
        let dimensions: Set<String> = ["time", "level", "plev", "lat", "lon", "latitude", "longitude"]
        var result: [NetCDFVariable] = []
        for member in try root.memberNames().sorted() where !dimensions.contains(member) {
            guard (try? root.kind(of: member)) == .dataset else { continue }
            let rank = try root.dataset(member).shape.count
            let long = ClimateVariables.canonical(member)
            if rank == 4 {
                result += levels.enumerated().map { NetCDFVariable(name: "\(long)_\($1)", dataset: member, levelIndex: $0) }
            } else if rank == 3 || rank == 2 {
                result.append(NetCDFVariable(name: long, dataset: member, levelIndex: nil))
            }
        }
        return result
    }

    static func planNetCDF(_ file: HDF5File, variables requested: [String]?, timeRange: Range<Int>? = nil) throws -> (ClimateGrid, [String: StoredField]) {
        let root = try file.root, path = file.path
        let latitudes = try coordinate(file, ["lat", "latitude"])
        let longitudes = try coordinate(file, ["lon", "longitude"])
        let (h, w) = (latitudes.count, longitudes.count)
        let available = try netCDFVariables(file)
        let names = try resolve(requested, available: available.map(\.name), file: path)
        var stored: [String: StoredField] = [:]
        var frames = 1
        for (storedName, name) in names {
            let variable = available.first { $0.name == storedName }!
            let dataset = try root.dataset(variable.dataset)
            let shape = try dataset.shape
            let times = shape.count == 2 ? 0..<1 : (timeRange ?? 0..<shape[0])
            if shape.count > 2 && times.upperBound > shape[0] {
                throw FileError(file: path, key: "variable '\(variable.dataset)'", message: "time steps \(times) requested, the file has \(shape[0])")
            }
            if variable.levelIndex != nil {
                guard shape.count == 4, shape[2] == h, shape[3] == w else {
                    throw FileError(file: path, key: "variable '\(variable.dataset)'", message: "shape \(shape), expected [time, level, \(h), \(w)]")
                }
            } else {
                guard Array(shape.suffix(2)) == [h, w], shape.count <= 3 else {
                    throw FileError(file: path, key: "variable '\(variable.dataset)'", message: "shape \(shape), expected [time, \(h), \(w)] or [\(h), \(w)]")
                }
            }
            let count = shape.count == 2 ? 1 : times.count
            if count > 1 {
                guard frames == 1 || frames == count else {
                    throw FileError(file: path, key: "variable '\(variable.dataset)'", message: "\(count) time steps, other variables have \(frames)")
                }
                frames = count
            }
            // netCDF packing and missing values (CF conventions).
            stored[name] = StoredField(dataset: variable.dataset, shape: shape, index: variable.levelIndex ?? 0, constant: count == 1,
                                       firstTime: times.lowerBound, scale: number(dataset, "scale_factor"), offset: number(dataset, "add_offset"),
                                       fill: number(dataset, "_FillValue") ?? number(dataset, "missing_value"))
        }
        var hours = (0..<frames).map(Double.init)
        if root.contains("time") {
            let time = try root.dataset("time")
            let all = try time.read(as: Double.self)
            let raw = timeRange.map { Array(all[$0.clamped(to: 0..<all.count)]) } ?? all
            let units = text(time, "units") ?? "hours since"
            let factor = units.hasPrefix("days") ? 24.0 : units.hasPrefix("minutes") ? 1 / 60.0 : units.hasPrefix("seconds") ? 1 / 3600.0 : 1
            hours = raw.map { $0 * factor }
        }
        return (ClimateGrid(variables: names.map(\.1), fields: [:], frames: frames, latitudes: latitudes, longitudes: longitudes,
                            hours: Array(hours.prefix(Swift.max(frames, 1))), source: path), stored)
    }

    // MARK: Shared

    /// A numeric attribute stored as a scalar or, as netCDF does, a one-element array.
    static func number(_ object: HDF5Object, _ name: String) -> Double? {
        guard object.hasAttribute(name), let value = try? object.attribute(name) else { return nil }
        switch value {
        case .double(let v): return v
        case .int(let v): return Double(v)
        case .doubles(let v) where v.count == 1: return v[0]
        case .floats(let v) where v.count == 1: return Double(v[0])
        case .ints(let v) where v.count == 1: return Double(v[0])
        default: return nil
        }
    }

    static func text(_ object: HDF5Object, _ name: String) -> String? {
        guard object.hasAttribute(name), let value = try? object.attribute(name) else { return nil }
        switch value {
        case .string(let v): return v
        case .strings(let v) where v.count == 1: return v[0]
        default: return nil
        }
    }

    static func coordinate(_ file: HDF5File, _ candidates: [String]) throws -> [Double] {
        let root = try file.root
        for name in candidates {
            if root.contains(name) { return try root.dataset(name).read(as: Double.self) }
            if root.hasAttribute(name), let values = try? root.attribute(name) {
                switch values {
                case .doubles(let v): return v
                case .floats(let v): return v.map(Double.init)
                default: break
                }
            }
        }
        throw FileError(file: file.path, key: "variable '\(candidates[0])'", message: "coordinate not found (looked for \(candidates.joined(separator: ", ")))")
    }

    /// Pairs of (name as stored, long name) for the requested variables, in request order.
    static func resolve(_ requested: [String]?, available: [String], file: String) throws -> [(String, String)] {
        let byLong = Dictionary(available.map { (ClimateVariables.canonical($0), $0) }, uniquingKeysWith: { first, _ in first })
        guard let requested else { return available.map { ($0, ClimateVariables.canonical($0)) } }
        return try requested.map { name in
            let long = ClimateVariables.canonical(name)
            guard let stored = byLong[long] else {
                throw FileError(file: file, key: "variable '\(name)'", message: "not found; the file has \(available.joined(separator: ", "))")
            }
            return (stored, long)
        }
    }

    /// Throws for the first NaN or infinity of `values` (frames `[n, H, W]` starting at `firstFrame`),
    /// naming its time, row and column.
    static func checkFinite(_ values: [Float], firstFrame: Int = 0, grid: ClimateGrid, name: String) throws {
        guard let index = values.firstIndex(where: { !$0.isFinite }) else { return }
        let size = grid.height * grid.width
        let (t, cell) = (firstFrame + index / size, index % size)
        throw FileError(file: grid.source, key: "variable '\(name)'",
                        message: "\(values[index]) at index [time \(t), lat \(cell / grid.width), lon \(cell % grid.width)]")
    }
}
