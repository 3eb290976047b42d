// A synthetic atmosphere on ClimaX's 5.625° grid (or a finer one), for data that can be shared and regenerated:
// two anomaly fields advected eastward at a latitude-dependent phase speed, diffused, damped and
// stirred by smooth random forcing, on top of zonal climates with a seasonal cycle; the surface
// temperature adds a diurnal cycle that is stronger over land. Variables are correlated through
// the shared anomalies (thickness: warm where the 500 hPa surface is high; geostrophic winds).
import Foundation
import TensorCore
import TensorIO

public struct SyntheticAtmosphere: Sendable {
    /// The grid: 32 × 64 (5.625°) by default; 64 × 128 (2.8125°) and 128 × 256 (1.40625°) keep the
    /// same weather in degrees (forcing drawn on the 5.625° grid, diffusion per cell scaled).
    public var height = 32, width = 64
    public static let grids: [String: (height: Int, width: Int)] = ["5.625": (32, 64), "2.8125": (64, 128), "1.40625": (128, 256)]
    public var days: Int
    public var seed: UInt64
    /// Days of each split, in time order: train, then validation, then test.
    public var splitDays: (train: Int, validation: Int, test: Int)
    /// Days per shard file (pairs never cross a shard boundary, as upstream).
    public var shardDays = 30

    public static let dynamicVariables = ["geopotential_500", "temperature_850", "2m_temperature",
                                          "10m_u_component_of_wind", "10m_v_component_of_wind"]
    public static let constantVariables = ["land_sea_mask", "orography", "lattitude"]
    public static var variables: [String] { constantVariables + dynamicVariables }

    public init(days: Int = 365, seed: UInt64 = 2026) {
        self.days = days
        self.seed = seed
        let validation = Swift.max(1, days / 10), test = Swift.max(1, days / 5)
        splitDays = (days - validation - test, validation, test)
    }

    /// Cell-centre latitudes from the south (ClimaX's regridder) and longitudes from 0°.
    public var latitudes: [Double] { (0..<height).map { -90 + 180 / Double(height) * (Double($0) + 0.5) } }
    public var longitudes: [Double] { (0..<width).map { 360 / Double(width) * Double($0) } }

    /// Land: a few smooth continents; orography: ridges on them (metres).
    func constants() -> (land: [Float], orography: [Float], latitude: [Float]) {
        let lat = latitudes, lon = longitudes
        // (centre lat, centre lon, half-widths in degrees): the Americas, Eurasia, Africa, Australia, Antarctica.
        let continents: [(Double, Double, Double, Double)] = [(45, 260, 22, 30), (-15, 300, 25, 15), (50, 80, 20, 65),
                                                              (5, 20, 28, 18), (-25, 135, 10, 18), (-82, 180, 8, 360)]
        var land = [Float](repeating: 0, count: height * width), orography = land, latitude = land
        for i in 0..<height {
            for j in 0..<width {
                var cover = 0.0, ridge = 0.0
                for (clat, clon, hlat, hlon) in continents {
                    var dlon = abs(lon[j] - clon).truncatingRemainder(dividingBy: 360)
                    dlon = Swift.min(dlon, 360 - dlon)
                    let r = (lat[i] - clat) * (lat[i] - clat) / (hlat * hlat) + dlon * dlon / (hlon * hlon)
                    cover = Swift.max(cover, 1 / (1 + Foundation.exp(8 * (r - 1))))
                    ridge += 1500 * Foundation.exp(-3 * r)
                }
                land[i * width + j] = Float(cover)
                orography[i * width + j] = Float(ridge * cover)
                latitude[i * width + j] = Float(lat[i])
            }
        }
        return (land, orography, latitude)
    }

    /// Hourly frames of every dynamic variable, `[hours, H, W]` each, calling `emit` once per hour.
    func simulate(hours: Int, emit: (Int, [String: [Float]]) throws -> Void) rethrows {
        let (h, w) = (height, width), n = height * width
        let lat = latitudes, lon = longitudes
        let (land, orography, _) = constants()
        var generator = RandomGenerator(seed: seed)
        // Eddy phase speed (m/s) peaking at the mid-latitude jets, as degrees of longitude per hour.
        func degreesPerHour(_ phase: (Double) -> Double) -> [Double] {
            lat.map { phase($0) * 3600 / (111_000 * Swift.max(0.15, Foundation.cos($0 * .pi / 180))) }
        }
        let pressureSpeed = degreesPerHour { 1.5 + 5 * Foundation.exp(-pow((abs($0) - 45) / 18, 2)) - 3 * Foundation.exp(-pow($0 / 15, 2)) }
        let thermalSpeed = degreesPerHour { 1 + 4 * Foundation.exp(-pow((abs($0) - 40) / 20, 2)) - 2 * Foundation.exp(-pow($0 / 15, 2)) }
        let envelope = lat.map { 0.25 + Foundation.exp(-pow((abs($0) - 50) / 22, 2)) }
        // Smooth random forcing, redrawn every 6 hours and interpolated between draws. It is drawn on
        // the 5.625° grid whatever the output grid, so its scales are the same in degrees; a finer
        // grid interpolates it and scales the diffusion per cell by the square of the refinement.
        let (baseHeight, baseWidth) = (32, 64)
        let refinement = Double(w) / Double(baseWidth), diffusionScale = refinement * refinement
        func smoothNoise() -> [Double] {
            var field = generator.normal([baseHeight * baseWidth], dtype: .float64).doubles
            for _ in 0..<40 { field = smoothed(field, baseHeight, baseWidth) }
            let scale = (field.map { $0 * $0 }.reduce(0, +) / Double(baseHeight * baseWidth)).squareRoot()
            if (h, w) != (baseHeight, baseWidth) { field = upsampled(field, baseHeight, baseWidth) }
            return (0..<n).map { field[$0] / scale * envelope[$0 / w] }
        }
        // Bilinear from a coarse grid of cell-centre latitudes (clamped at the poles), periodic in longitude.
        func upsampled(_ f: [Double], _ ch: Int, _ cw: Int) -> [Double] {
            var out = [Double](repeating: 0, count: n)
            for i in 0..<h {
                let y = Swift.min(Swift.max((Double(i) + 0.5) * Double(ch) / Double(h) - 0.5, 0), Double(ch - 1))
                let i0 = Int(y), i1 = Swift.min(i0 + 1, ch - 1), ty = y - Double(i0)
                for j in 0..<w {
                    let x = Double(j) * Double(cw) / Double(w)
                    let j0 = Int(x) % cw, j1 = (j0 + 1) % cw, tx = x - Foundation.floor(x)
                    out[i * w + j] = (1 - ty) * ((1 - tx) * f[i0 * cw + j0] + tx * f[i0 * cw + j1])
                        + ty * ((1 - tx) * f[i1 * cw + j0] + tx * f[i1 * cw + j1])
                }
            }
            return out
        }
        func smoothed(_ f: [Double], _ h: Int, _ w: Int) -> [Double] {
            var out = f
            for i in 0..<h {
                for j in 0..<w {
                    let up = Swift.min(h - 1, i + 1), down = Swift.max(0, i - 1)
                    out[i * w + j] = 0.4 * f[i * w + j] + 0.15 * (f[i * w + (j + 1) % w] + f[i * w + (j + w - 1) % w] + f[up * w + j] + f[down * w + j])
                }
            }
            return out
        }
        func advected(_ f: [Double], _ speed: [Double]) -> [Double] {
            var out = f
            for i in 0..<h {
                // Semi-Lagrangian: the value at λ comes from λ − c·Δt, cubic (Catmull-Rom) in
                // longitude, which diffuses far less than linear interpolation over thousands of steps.
                let shift = speed[i] / (360 / Double(w))
                let whole = Int(Foundation.floor(shift)), t = shift - Foundation.floor(shift)
                let weights = [(-t * t * t + 2 * t * t - t) / 2, (3 * t * t * t - 5 * t * t + 2) / 2,
                               (-3 * t * t * t + 4 * t * t + t) / 2, (t * t * t - t * t) / 2]
                for j in 0..<w {
                    var value = 0.0
                    // Source points λ_j − whole − t: neighbours j − whole + 1, j − whole, j − whole − 1, j − whole − 2.
                    for (k, weight) in weights.enumerated() { value += weight * f[i * w + (((j - whole + 1 - k) % w) + w) % w] }
                    out[i * w + j] = value
                }
            }
            return out
        }
        func diffusedAndDamped(_ f: [Double], diffusion: Double, damping: Double) -> [Double] {
            var out = f
            for i in 0..<h {
                let up = Swift.min(h - 1, i + 1), down = Swift.max(0, i - 1)
                for j in 0..<w {
                    let centre = f[i * w + j]
                    let laplacian = f[i * w + (j + 1) % w] + f[i * w + (j + w - 1) % w] + f[up * w + j] + f[down * w + j] - 4 * centre
                    out[i * w + j] = centre + diffusion * laplacian - damping * centre
                }
            }
            return out
        }
        var pressure = [Double](repeating: 0, count: n), thermal = pressure
        var forcing = (smoothNoise(), smoothNoise()), next = (smoothNoise(), smoothNoise())
        let spinUp = 45 * 24
        // Damping 1/(8 days) and 1/(7 days).
        for hour in -spinUp..<hours {
            let phase = Double(((hour % 6) + 6) % 6) / 6
            if phase == 0 { forcing = next; next = (smoothNoise(), smoothNoise()) }
            pressure = diffusedAndDamped(advected(pressure, pressureSpeed), diffusion: 0.003 * diffusionScale, damping: 1 / 192.0)
            thermal = diffusedAndDamped(advected(thermal, thermalSpeed), diffusion: 0.004 * diffusionScale, damping: 1 / 168.0)
            for i in 0..<n {
                pressure[i] += 0.12 * ((1 - phase) * forcing.0[i] + phase * next.0[i])
                thermal[i] += 0.12 * ((1 - phase) * forcing.1[i] + phase * next.1[i])
            }
            guard hour >= 0 else { continue }
            let day = Double(hour) / 24
            // Seasonal phase: northern summer peaks near day 196 (mid-July).
            let season = Foundation.cos(2 * .pi * (day - 196) / 365)
            var fields: [String: [Float]] = [:]
            var z = [Float](repeating: 0, count: n), t850 = z, t2m = z, u = z, v = z
            for i in 0..<h {
                let phi = lat[i] * .pi / 180, hemisphere = Foundation.sin(phi)
                let zonalZ = 54_500 + 4_200 * Foundation.cos(2 * phi) + 900 * hemisphere * season
                let zonalT = 262 + 34 * pow(Foundation.cos(phi), 2) + 7 * hemisphere * season
                let jet = 6 * Foundation.exp(-pow((abs(lat[i]) - 45) / 12, 2)) - 4 * Foundation.exp(-pow(lat[i] / 12, 2))
                for j in 0..<w {
                    let cell = i * w + j
                    let anomaly = pressure[cell], warm = 0.6 * pressure[cell] + thermal[cell]
                    z[cell] = Float(zonalZ + 420 * anomaly)
                    t850[cell] = Float(zonalT + 2.2 * warm)
                    // Local solar hour: the sun is overhead at 12:00 local time; land heats and cools more.
                    let localHour = (Double(hour % 24) + lon[j] / 15).truncatingRemainder(dividingBy: 24)
                    let diurnal = (1.5 + 5 * Double(land[cell])) * Foundation.cos(phi) * Foundation.cos(2 * .pi * (localHour - 15) / 24)
                    t2m[cell] = Float(zonalT + 10 - 0.0065 * Double(orography[cell]) + 1.8 * warm + diurnal
                                      + 4 * Double(land[cell]) * hemisphere * season)
                    // Geostrophic-like winds from the pressure anomaly's gradients.
                    let north = pressure[Swift.min(h - 1, i + 1) * w + j], south = pressure[Swift.max(0, i - 1) * w + j]
                    let east = pressure[i * w + (j + 1) % w], west = pressure[i * w + (j + w - 1) % w]
                    u[cell] = Float(jet - 2.5 * (north - south))
                    v[cell] = Float(2.5 * (east - west) / Swift.max(0.2, Foundation.cos(phi)))
                }
            }
            fields["geopotential_500"] = z
            fields["temperature_850"] = t850
            fields["2m_temperature"] = t2m
            fields["10m_u_component_of_wind"] = u
            fields["10m_v_component_of_wind"] = v
            try emit(hour, fields)
        }
    }

    /// Writes `train/`, `val/` and `test/` shard files in the ClimaX HDF5 layout under `directory`,
    /// with the training split's statistics and each split's climatology in every shard.
    /// Returns the files written.
    @discardableResult
    public func write(to directory: String, log: (String) -> Void = { _ in }) throws -> [String] {
        let hours = days * 24, n = height * width
        let splits = [("train", 0, splitDays.train * 24), ("val", splitDays.train * 24, (splitDays.train + splitDays.validation) * 24),
                      ("test", (splitDays.train + splitDays.validation) * 24, hours)]
        guard splitDays.train > 0, splitDays.validation > 0, splitDays.test > 0 else {
            throw FileError(file: directory, message: "\(days) days are too few for train, validation and test splits")
        }
        let (land, orography, latitude) = constants()
        let constantFields = ["land_sea_mask": land, "orography": orography, "lattitude": latitude]
        // Pass 1: training statistics and per-split time means (the simulation is deterministic).
        var sums: [String: (Double, Double)] = [:]
        var climatology: [String: [String: [Double]]] = [:]
        for (split, _, _) in splits { climatology[split] = [:] }
        simulate(hours: hours) { hour, fields in
            let split = splits.first { hour >= $0.1 && hour < $0.2 }!.0
            for (name, field) in fields {
                if split == "train" {
                    var (s, s2) = sums[name] ?? (0, 0)
                    for value in field { s += Double(value); s2 += Double(value) * Double(value) }
                    sums[name] = (s, s2)
                }
                var mean = climatology[split]![name] ?? [Double](repeating: 0, count: n)
                for i in 0..<n { mean[i] += Double(field[i]) }
                climatology[split]![name] = mean
            }
        }
        var mean: [String: Double] = [:], std: [String: Double] = [:]
        let trainCount = Double(splitDays.train * 24 * n)
        for (name, (s, s2)) in sums {
            mean[name] = s / trainCount
            std[name] = (s2 / trainCount - (s / trainCount) * (s / trainCount)).squareRoot()
        }
        for (name, field) in constantFields {
            let values = field.map(Double.init)
            let m = values.reduce(0, +) / Double(n)
            mean[name] = m
            std[name] = Swift.max(1e-6, (values.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(n)).squareRoot())
        }
        // Pass 2: the shards.
        var written: [String] = []
        var buffer: [String: [Float]] = [:], bufferStart = 0
        func flush(split: String, start: Int, end: Int) throws {
            guard end > start else { return }
            let frames = end - start
            var grid = ClimateGrid(variables: Self.variables, fields: buffer.merging(constantFields) { a, _ in a }, frames: frames,
                                   latitudes: latitudes, longitudes: longitudes, hours: (start..<end).map(Double.init), source: directory)
            grid.mean = mean
            grid.std = std
            let count = Double(splits.first { $0.0 == split }!.2 - splits.first { $0.0 == split }!.1)
            for name in Self.dynamicVariables { grid.climatology[name] = climatology[split]![name]!.map { Float($0 / count) } }
            for (name, field) in constantFields { grid.climatology[name] = field }
            let folder = directory + "/" + split
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let shardIndex = (start - splits.first { $0.0 == split }!.1) / (shardDays * 24)
            let path = folder + String(format: "/%03d.h5", shardIndex)
            try grid.write(to: path)
            written.append(path)
            log("wrote \(path): \(frames) hours from hour \(start)")
            buffer = [:]
        }
        try simulate(hours: hours) { hour, fields in
            let split = splits.first { hour >= $0.1 && hour < $0.2 }!
            if buffer.isEmpty { bufferStart = hour }
            for (name, field) in fields { buffer[name, default: []] += field }
            let shardEnd = Swift.min(split.2, split.1 + ((hour - split.1) / (shardDays * 24) + 1) * shardDays * 24)
            if hour + 1 == shardEnd { try flush(split: split.0, start: bufferStart, end: hour + 1) }
        }
        return written
    }
}
