// A ClimateBench-shaped dataset made by a simple physical model, for when NorESM2's simulations
// (Watson-Parris et al. 2022, on Zenodo) are not at hand. Each simulation's forcings drive a
// two-layer energy balance model (Geoffroy et al. 2013, CMIP5 multi-model mean: C = 7.3 and
// C₀ = 106 W yr m⁻² K⁻¹, λ = 1.13 and γ = 0.73 W m⁻² K⁻¹); the global response is spread by
// fixed patterns (Arctic amplification, land warming faster), aerosols cool where they are
// emitted, and each ensemble member adds its own slow noise. Forcing from concentrations follows
// Myhre et al. 1998 (CO₂: 5.35 ln(C/C₀); CH₄: 0.036(√M − √M₀)); concentrations come from emissions
// by a constant airborne fraction (0.45, 7.8 GtCO₂ per ppm) and a 9.1-year CH₄ lifetime.
// Emission pathways are piecewise linear through points shaped after the historical record and
// the SSP markers: stylised, not the ScenarioMIP data.
//
// Layout, as ClimateBench's files: `train_val/` and `test/` hold `inputs_<simulation>.h5` (CO2:
// cumulative emissions [T] GtCO₂, CH4: emissions [T] Mt/yr, SO2 and BC: emission maps [T, H, W],
// each source region's Tg/yr spread over a plume) and `outputs_<simulation>.h5` (tas and
// diurnal_temperature_range anomalies in K, pr and pr90 anomalies in kg m⁻² s⁻¹, each
// [T, member, H, W]); scenarios hold 2015–2100 and are read after `historical` (1850–2014).
import Foundation
import TensorCore
import TensorIO

public struct SyntheticClimateBench: Sendable {
    public static let trainSimulations = ["ssp126", "ssp370", "ssp585", "historical", "hist-GHG", "hist-aer"]
    public static let testSimulations = ["ssp245"]
    public static let inputVariables = ["CO2", "SO2", "CH4", "BC"]
    public static let outputVariables = ["tas", "diurnal_temperature_range", "pr", "pr90"]
    public static let historicalYears = 1850...2014, scenarioYears = 2015...2100

    public var members = 3
    public var seed: UInt64
    public let latitudes: [Double], longitudes: [Double]

    /// The 5.625° grid of ClimaX's ClimateBench files (32 × 64), or one `coarsening` times coarser.
    public init(seed: UInt64 = 2026, coarsening: Int = 1) {
        self.seed = seed
        let step = 5.625 * Double(coarsening)
        latitudes = (0..<(32 / coarsening)).map { -90 + step / 2 + step * Double($0) }
        longitudes = (0..<(64 / coarsening)).map { step * Double($0) }
    }

    var height: Int { latitudes.count }
    var width: Int { longitudes.count }

    // MARK: Emission pathways (value at listed years, linear between, constant beyond)

    /// Global CO₂ emissions, GtCO₂/yr.
    static let carbon: [String: [(Int, Double)]] = [
        "historical": [(1850, 2), (1900, 4), (1950, 10), (1980, 25), (2000, 30), (2014, 40)],
        "ssp126": [(2030, 25), (2050, 8), (2075, -2), (2100, -8)],
        "ssp245": [(2040, 44), (2060, 36), (2080, 20), (2100, 10)],
        "ssp370": [(2050, 65), (2100, 83)],
        "ssp585": [(2050, 85), (2080, 115), (2100, 126)],
    ]
    /// Global CH₄ emissions, Mt/yr.
    static let methane: [String: [(Int, Double)]] = [
        "historical": [(1850, 30), (1950, 150), (2000, 300), (2014, 380)],
        "ssp126": [(2050, 200), (2100, 130)], "ssp245": [(2050, 380), (2100, 250)],
        "ssp370": [(2050, 560), (2100, 700)], "ssp585": [(2050, 550), (2100, 450)],
    ]
    /// SO₂ emissions by source region, Tg/yr: North America and Europe, East Asia, South Asia.
    static let sulphur: [[String: [(Int, Double)]]] = [
        ["historical": [(1850, 1), (1900, 15), (1950, 45), (1975, 70), (2000, 35), (2014, 15)],
         "ssp126": [(2050, 3), (2100, 1)], "ssp245": [(2050, 6), (2100, 3)], "ssp370": [(2050, 12), (2100, 8)], "ssp585": [(2050, 4), (2100, 2)]],
        ["historical": [(1850, 0.5), (1950, 3), (1980, 15), (2005, 35), (2014, 30)],
         "ssp126": [(2050, 5), (2100, 2)], "ssp245": [(2050, 12), (2100, 5)], "ssp370": [(2050, 35), (2100, 25)], "ssp585": [(2050, 8), (2100, 3)]],
        ["historical": [(1850, 0.2), (1950, 1), (1990, 6), (2014, 15)],
         "ssp126": [(2050, 5), (2100, 2)], "ssp245": [(2050, 14), (2100, 6)], "ssp370": [(2050, 30), (2100, 28)], "ssp585": [(2050, 10), (2100, 4)]],
    ]
    /// Source regions (latitude, longitude of the centre) and black carbon per SO₂ there.
    static let regions: [(latitude: Double, longitude: Double, blackCarbonRatio: Double)] = [(45, 300, 0.06), (32, 112, 0.12), (23, 80, 0.25)]

    static func path(_ table: [String: [(Int, Double)]], simulation: String, year: Int) -> Double {
        var points = table["historical"]!
        if simulation.hasPrefix("ssp") { points += table[simulation]! }
        if year <= points[0].0 { return points[0].1 }
        for (a, b) in zip(points, points.dropFirst()) where year <= b.0 {
            return a.1 + (b.1 - a.1) * Double(year - a.0) / Double(b.0 - a.0)
        }
        return points[points.count - 1].1
    }

    /// Years of a simulation as ClimateBench stores it (scenarios without their historical part).
    public static func years(_ simulation: String) -> ClosedRange<Int> { simulation.hasPrefix("ssp") ? scenarioYears : historicalYears }

    /// Emissions of `simulation` in `year`: global CO₂ and CH₄, and SO₂ per region. hist-GHG keeps
    /// aerosols at 1850's; hist-aer emits no CO₂ and keeps CH₄ at 1850's.
    static func emissions(_ simulation: String, year: Int) -> (co2: Double, ch4: Double, so2: [Double]) {
        let aerosolOnly = simulation == "hist-aer", aerosolYear = simulation == "hist-GHG" ? 1850 : year
        return (aerosolOnly ? 0 : path(carbon, simulation: simulation, year: year), path(methane, simulation: simulation, year: aerosolOnly ? 1850 : year),
                sulphur.map { path($0, simulation: simulation, year: aerosolYear) })
    }

    // MARK: Spatial patterns

    /// exp(−d²/2w²) of the great-circle distance d (degrees) from a region's centre, per cell.
    func plume(_ region: Int, width w: Double) -> [Double] {
        let centre = Self.regions[region], rad = Double.pi / 180
        return latitudes.flatMap { lat in
            longitudes.map { lon in
                let c = sin(lat * rad) * sin(centre.latitude * rad) + cos(lat * rad) * cos(centre.latitude * rad) * cos((lon - centre.longitude) * rad)
                let d = acos(Swift.min(1, Swift.max(-1, c))) / rad
                return exp(-d * d / (2 * w * w))
            }
        }
    }

    /// Area weights cos(lat) / mean, per cell.
    var areaWeights: [Double] { LatitudeWeights.weights(latitudes).flatMap { [Double](repeating: $0, count: width) } }

    /// Warming per degree of global warming: Arctic amplification, faster over land; area mean 1.
    func warmingPattern(land: [Double]) -> [Double] {
        let raw = latitudes.indices.flatMap { i -> [Double] in
            let s = sin(latitudes[i] * .pi / 180)
            return (0..<width).map { j in 1 + 1.6 * Swift.max(0, s) * Swift.max(0, s) * Swift.max(0, s) + 0.4 * s * s + 0.5 * land[i * width + j] }
        }
        let weights = areaWeights, mean = zip(raw, weights).map(*).reduce(0, +) / Double(raw.count)
        return raw.map { $0 / mean }
    }

    /// Climatological precipitation, mm/day: the ITCZ, dry subtropics, mid-latitude storm tracks.
    var basePrecipitation: [Double] {
        func bump(_ x: Double, _ width: Double) -> Double { exp(-(x / width) * (x / width)) }
        return latitudes.flatMap { (lat: Double) -> [Double] in
            let itcz = 5 * bump(lat, 8), subtropics = 1.5 * bump(abs(lat) - 25, 8), stormTracks = 1.5 * bump(abs(lat) - 50, 10)
            return [Double](repeating: 2.5 + itcz - subtropics + stormTracks, count: width)
        }
    }

    /// Land fraction: the continents of the synthetic atmosphere, on this grid.
    var land: [Double] {
        latitudes.flatMap { lat in
            longitudes.map { lon in
                func bump(_ x: Double, _ width: Double) -> Double { exp(-(x / width) * (x / width)) }
                let americas: Double = bump(lon - 280, 25) * (lat > -55 && lat < 70 ? 1 : 0)
                let eurasia: Double = bump(lon - 80, 60) * bump(lat - 45, 22)
                let africa: Double = bump(lon - 20, 20) * bump(lat, 25)
                let antarctica = lat < -70 ? 1.0 : 0
                return Swift.min(1, americas + eurasia + africa + antarctica)
            }
        }
    }

    // MARK: The simulations

    public struct Simulation {
        public var years: [Int]
        /// Inputs: CO2 and CH4 per year, SO2 and BC `[T, H, W]`.
        public var co2: [Float], ch4: [Float], so2: [Float], bc: [Float]
        /// Outputs `[T, members, H, W]`.
        public var outputs: [String: [Float]]
        /// Global-mean warming of the energy balance model per year, K.
        public var globalWarming: [Double]
    }

    /// Runs `simulation` from 1850 (a scenario runs the historical years first and keeps its own).
    public func run(_ simulation: String) -> Simulation {
        let cells = height * width, keep = Self.years(simulation)
        let land = self.land, pattern = warmingPattern(land: land), basePr = basePrecipitation
        let emissionPlumes = Self.regions.indices.map { plume($0, width: 8) }, responsePlumes = Self.regions.indices.map { plume($0, width: 20) }
        var cumulative = 0.0, surface = 0.0, deep = 0.0
        var result = Simulation(years: [], co2: [], ch4: [], so2: [], bc: [], outputs: [:], globalWarming: [])
        var outputs = Self.outputVariables.map { _ in [Float]() }
        // Each member's noise: a few large-scale modes with AR(1) amplitudes in time.
        var generator = RandomGenerator(seed: seed &+ UInt64(Self.trainSimulations.firstIndex(of: simulation) ?? 9) &* 7919)
        let modes = 6
        let shapes: [[Double]] = (0..<modes).map { k in
            let zonal = Double(k % 3 + 1), meridional = Double(k / 3 + 1), phase = Double(k) * 1.3
            return latitudes.flatMap { lat in longitudes.map { lon in cos(zonal * lon * .pi / 180 + phase) * cos(meridional * lat * .pi / 180) } }
        }
        var amplitudes = [[Double]](repeating: [Double](repeating: 0, count: modes + 1), count: members)
        for year in Self.historicalYears.lowerBound...keep.upperBound {
            let (co2, ch4, so2) = Self.emissions(simulation, year: year)
            cumulative += co2
            let concentration = 284 + 0.45 * cumulative / 7.8
            let methaneConcentration = 790 + 9.1 * (ch4 - 30) / 2.78
            let sulphurTotal = so2.reduce(0, +)
            let blackCarbon = zip(so2, Self.regions).map { $0 * $1.blackCarbonRatio }
            let forcing = 5.35 * log(concentration / 284) + 0.036 * (methaneConcentration.squareRoot() - 790.0.squareRoot())
                - 0.011 * sulphurTotal + 0.03 * blackCarbon.reduce(0, +)
            // Two-layer energy balance, one-year steps.
            let exchange = 0.73 * (surface - deep)
            surface += (forcing - 1.13 * surface - exchange) / 7.3
            deep += exchange / 106
            guard keep.contains(year) else { continue }
            result.years.append(year)
            result.globalWarming.append(surface)
            result.co2.append(Float(cumulative))
            result.ch4.append(Float(ch4))
            var sulphurMap = [Double](repeating: 0, count: cells), carbonMap = sulphurMap, haze = sulphurMap
            for r in Self.regions.indices {
                for c in 0..<cells {
                    sulphurMap[c] += so2[r] * emissionPlumes[r][c]
                    carbonMap[c] += blackCarbon[r] * emissionPlumes[r][c]
                    haze[c] += so2[r] * responsePlumes[r][c]
                }
            }
            // Per cell: emissions in Tg/yr divided among the plume's cells (ClimateBench's maps are fluxes; the scale is what matters).
            result.so2 += sulphurMap.map { Float($0 * 0.01) }
            result.bc += carbonMap.map { Float($0 * 0.01) }
            var fields = Self.outputVariables.map { _ in [Float](repeating: 0, count: members * cells) }
            for m in 0..<members {
                for k in 0...modes { amplitudes[m][k] = 0.6 * amplitudes[m][k] + 0.8 * generator.normal([1], dtype: .float64).doubles[0] }
                for c in 0..<cells {
                    var noise = 0.0
                    for k in 0..<modes { noise += 0.25 * amplitudes[m][k] * shapes[k][c] }
                    let globalNoise = 0.08 * amplitudes[m][modes]
                    let warming = surface * pattern[c] - 0.012 * haze[c] + noise + globalNoise
                    let landFactor = 1 + land[c]
                    fields[0][m * cells + c] = Float(warming)
                    fields[1][m * cells + c] = Float(-0.06 * surface * landFactor - 0.004 * haze[c] * landFactor + 0.1 * noise)
                    // Precipitation anomalies, mm/day → kg m⁻² s⁻¹: 2 %/K, wet regions wetter, aerosols drying.
                    let rain = basePr[c] * (0.02 * surface + 0.02 * warming) - 0.002 * haze[c] + 0.05 * noise * basePr[c] / 3
                    fields[2][m * cells + c] = Float(rain / 86_400)
                    fields[3][m * cells + c] = Float((2.5 * basePr[c] * 0.06 * warming - 0.004 * haze[c] + 0.12 * noise * basePr[c] / 3) / 86_400)
                }
            }
            for v in outputs.indices { outputs[v] += fields[v] }
        }
        for (v, name) in Self.outputVariables.enumerated() { result.outputs[name] = outputs[v] }
        return result
    }

    /// Writes `train_val/` and `test/` under `directory`, each file whole or not at all.
    public func write(to directory: String) throws {
        for (folder, simulations) in [("train_val", Self.trainSimulations), ("test", Self.testSimulations)] {
            try FileManager.default.createDirectory(atPath: directory + "/" + folder, withIntermediateDirectories: true)
            for simulation in simulations {
                let run = run(simulation)
                let (h, w, t) = (height, width, run.years.count)
                try HDF5File.writeAtomically(to: "\(directory)/\(folder)/inputs_\(simulation).h5") { file in
                    let root = try file.root
                    try root.setAttribute("source", .string("scizoo climatebench-synth (energy balance model; stylised emission pathways)"))
                    try root.write("time", run.years.map(Double.init), shape: [t])
                    try root.write("latitude", latitudes, shape: [h])
                    try root.write("longitude", longitudes, shape: [w])
                    try root.write("CO2", run.co2, shape: [t])
                    try root.write("CH4", run.ch4, shape: [t])
                    try root.write("SO2", run.so2, shape: [t, h, w])
                    try root.write("BC", run.bc, shape: [t, h, w])
                }
                try HDF5File.writeAtomically(to: "\(directory)/\(folder)/outputs_\(simulation).h5") { file in
                    let root = try file.root
                    try root.setAttribute("source", .string("scizoo climatebench-synth (energy balance model; stylised emission pathways)"))
                    try root.write("time", run.years.map(Double.init), shape: [t])
                    try root.write("lat", latitudes, shape: [h])
                    try root.write("lon", longitudes, shape: [w])
                    for name in Self.outputVariables { try root.write(name, run.outputs[name]!, shape: [t, members, h, w]) }
                }
            }
        }
    }
}
