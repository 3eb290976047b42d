import Foundation
import TensorIO
import Testing
import TestSupport
@testable import ClimateForecasting
import TensorCore

@Suite("Forecast pairs, normalisation, shuffling, sharding, regions, synthetic atmosphere")
struct ForecastDatasetTests {
    /// A 12-day synthetic atmosphere (shards of 4 days), shared by the tests of this suite.
    static let root: String = {
        let directory = try! Fixtures.scratchDirectory("synthetic-atmosphere").path
        var atmosphere = SyntheticAtmosphere(days: 12, seed: 5)
        atmosphere.shardDays = 4
        try! atmosphere.write(to: directory)
        return directory
    }()

    @Test("the synthetic atmosphere writes train/val/test shards with training statistics and split climatologies")
    func syntheticFiles() throws {
        let train = try FileManager.default.contentsOfDirectory(atPath: Self.root + "/train").sorted()
        #expect(train == ["000.h5", "001.h5", "002.h5"] || train == ["000.h5", "001.h5"])
        let grid = try GridReader.read(path: Self.root + "/test/000.h5")
        #expect(grid.height == 32 && grid.width == 64 && grid.hoursPerStep == 1)
        #expect(Set(grid.variables) == Set(SyntheticAtmosphere.variables))
        #expect(abs(grid.latitudes[0] + 87.1875) < 1e-9 && grid.longitudes[1] == 5.625)
        // Physical ranges: z500 in m²/s² around 54,500, temperatures in K, a land fraction in [0, 1].
        let z = grid.fields["geopotential_500"]!, t = grid.fields["temperature_850"]!, land = grid.fields["land_sea_mask"]!
        #expect(z.min()! > 40_000 && z.max()! < 65_000 && t.min()! > 200 && t.max()! < 320 && land.min()! >= 0 && land.max()! <= 1)
        #expect(grid.std["geopotential_500"]! > 1000 && grid.climatology["temperature_850"]!.count == 32 * 64)
        // z500 and t850 anomalies are positively correlated (thickness).
        let zc = grid.climatology["geopotential_500"]!, tc = grid.climatology["temperature_850"]!
        var cross = 0.0, zz = 0.0, tt = 0.0
        for i in 0..<z.count {
            let za = Double(z[i] - zc[i % 2048]), ta = Double(t[i] - tc[i % 2048])
            cross += za * ta; zz += za * za; tt += ta * ta
        }
        #expect(cross / (zz * tt).squareRoot() > 0.3)
    }

    @Test("pairs stay inside shards; inputs and targets are normalised with the training statistics")
    func pairsAndNormalisation() throws {
        let data = try ForecastDataset(directory: Self.root + "/train", variables: ["z_500", "t2m", "lsm"], outVariables: ["t_850"], leadHours: 24)
        let frames = data.shards.map(\.frames)
        #expect(data.pairs.count == frames.map { $0 - 24 }.reduce(0, +))
        #expect(data.leadSteps == 24 && data.variables == ["geopotential_500", "2m_temperature", "land_sea_mask"])
        let (inputs, targets, lead) = try data.batch([0, data.pairs.count - 1])
        #expect(inputs.shape == [2, 3, 32, 64] && targets.shape == [2, 1, 32, 64] && lead.doubles == [0.24, 0.24].map { Double(Float($0)) })
        let last = data.pairs[data.pairs.count - 1]
        let raw = try data.shards[last.shard].frame("temperature_850", last.time + 24)
        let expected = (Double(raw[raw.startIndex + 100]) - data.outputMean[0]) / data.outputStd[0]
        #expect(abs(targets.doubles[32 * 64 + 100] - expected) < 1e-5)
        // Over the training split the normalised inputs have mean ≈ 0 and std ≈ 1.
        let all = try data.batch(Array(stride(from: 0, to: data.pairs.count, by: 7))).inputs.sliced(axis: 1, 0, 1).contiguous().doubles
        let mean = all.reduce(0, +) / Double(all.count)
        #expect(abs(mean) < 0.1)
    }

    @Test("a split streamed frame by frame gives the same batches, baselines and climatology as one held whole")
    func streamedEqualsResident() throws {
        func open(_ limit: Int?) throws -> ForecastDataset {
            try ForecastDataset(directory: Self.root + "/val", variables: ["z_500", "t2m", "lsm"], outVariables: ["t_850", "z_500"], leadHours: 6,
                                residentLimit: limit)
        }
        let whole = try open(nil), streamed = try open(0)
        #expect(!whole.isStreamed && streamed.isStreamed)
        let picks = [[0, whole.pairs.count - 1], [5, 2, 17], Array(0..<8)]
        for batch in picks {
            let (a, b) = (try whole.batch(batch), try streamed.batch(batch))
            #expect(a.inputs.doubles == b.inputs.doubles && a.targets.doubles == b.targets.doubles && a.leadTimes.doubles == b.leadTimes.doubles)
        }
        let (p, q) = (try ForecastBaselines.evaluate(whole), try ForecastBaselines.evaluate(streamed))
        #expect(p["temperature_850"]!.persistence.sums == q["temperature_850"]!.persistence.sums)
        // The time mean that stands in for a missing /climatology group, constants included, by streaming too.
        for name in ["temperature_850", "land_sea_mask"] {
            #expect(try ForecastDataset.timeMean(of: name, in: whole.shards) == ForecastDataset.timeMean(of: name, in: streamed.shards))
        }
    }

    @Test("a regional batch's targets are the box's cells of the full targets")
    func regionalTargets() throws {
        let data = try ForecastDataset(directory: Self.root + "/train", variables: ["z_500"], outVariables: ["t_850"], leadHours: 6)
        let region = try ClimateRegions.patches(region: "Australia", latitudes: data.latitudes, longitudes: data.longitudes, patchSize: 2)
        let full = try data.batch([3]).targets.doubles, cropped = try data.batch([3], region: region).targets
        #expect(cropped.shape == [1, 1, region.rows.count, region.columns.count])
        let expected = region.rows.flatMap { row in region.columns.map { full[row * 64 + $0] } }
        #expect(cropped.doubles == expected)
        #expect(region.rows.allSatisfy { data.latitudes[$0] >= -50 && data.latitudes[$0] <= 10 })
    }

    @Test("total precipitation's normalisation mean is forced to 0, as upstream")
    func precipitationMean() {
        #expect(ClimateVariables.hasZeroMean("tp") && ClimateVariables.hasZeroMean("total_precipitation") && !ClimateVariables.hasZeroMean("t2m"))
    }

    @Test("the shuffle buffer permutes every sample once per epoch, reproducibly; ranks get disjoint equal shares")
    func shuffleAndShard() throws {
        let data = try ForecastDataset(directory: Self.root + "/train", variables: ["z_500"], outVariables: ["z_500"], leadHours: 6)
        let epoch = data.batches(epoch: 0, batchSize: 1, shuffle: true, bufferSize: 100, seed: 3, dropLast: false).flatMap { $0 }
        #expect(epoch.sorted() == Array(data.pairs.indices) && epoch != Array(data.pairs.indices))
        #expect(epoch == data.batches(epoch: 0, batchSize: 1, shuffle: true, bufferSize: 100, seed: 3, dropLast: false).flatMap { $0 })
        #expect(epoch != data.batches(epoch: 1, batchSize: 1, shuffle: true, bufferSize: 100, seed: 3, dropLast: false).flatMap { $0 })
        let shares = (0..<3).map { data.batches(epoch: 2, batchSize: 4, shuffle: true, bufferSize: 50, seed: 3, rank: $0, ranks: 3) }
        #expect(Set(shares.map(\.count)).count == 1 && shares[0].count == data.pairs.count / 3 / 4)
        let flat = shares.flatMap { $0.flatMap { $0 } }
        #expect(Set(flat).count == flat.count)
    }

    @Test("regions are read against the grid's own latitude order (upstream reverses it and lands in the other hemisphere)")
    func regionOrientation() throws {
        let ascending = (0..<32).map { -87.1875 + 5.625 * Double($0) }, longitudes = (0..<64).map { 5.625 * Double($0) }
        let north = try ClimateRegions.patches(region: "NorthAmerica", latitudes: ascending, longitudes: longitudes, patchSize: 2)
        // Rows of the box are in the northern half of a south-to-north grid.
        #expect(north.rows.allSatisfy { ascending[$0] >= 15 && ascending[$0] <= 65 })
        #expect(north.columns.allSatisfy { longitudes[$0] >= 220 && longitudes[$0] <= 300 })
        let descending = Array(ascending.reversed())
        let flipped = try ClimateRegions.patches(region: "NorthAmerica", latitudes: descending, longitudes: longitudes, patchSize: 2)
        #expect(flipped.rows.allSatisfy { descending[$0] >= 15 && descending[$0] <= 65 })
        #expect(Set(north.rows.map { ascending[$0] }) == Set(flipped.rows.map { descending[$0] }))
        #expect(throws: FileError.self) { try ClimateRegions.patches(region: "Atlantis", latitudes: ascending, longitudes: longitudes, patchSize: 2) }
    }

    @Test("baselines: persistence is perfect at lead 0's neighbour and degrades with lead; climatology does not depend on lead")
    func baselines() throws {
        let short = try ForecastDataset(directory: Self.root + "/test", variables: ["z_500"], outVariables: ["z_500"], leadHours: 1)
        let long = try ForecastDataset(directory: Self.root + "/test", variables: ["z_500"], outVariables: ["z_500"], leadHours: 24)
        let a = try ForecastBaselines.evaluate(short)["geopotential_500"]!, b = try ForecastBaselines.evaluate(long)["geopotential_500"]!
        #expect(a.persistence.rmse(.global) < b.persistence.rmse(.global))
        #expect(a.persistence.acc > 0.9)
        #expect(abs(a.climatology.rmse(.global) - b.climatology.rmse(.global)) < 0.2 * a.climatology.rmse(.global))
    }
}

@Suite("A 721-row ERA5-layout grid read by a 720-row model")
struct LastRowTests {
    @Test("the last (south-pole) row is left out of coordinates, frames, batches and climatology, streamed or whole; other row counts are kept")
    func dropsLastRow() throws {
        let directory = try Fixtures.scratchDirectory("poles")
        // 9 rows from 90° to −90° with the poles, as ERA5's 721; 16 columns; 6 hourly frames.
        let (h, w, t) = (9, 16, 6)
        var generator = RandomGenerator(seed: 8)
        var grid = ClimateGrid(variables: ["2m_temperature", "land_sea_mask"],
                               fields: ["2m_temperature": generator.normal([t * h * w], mean: 280, std: 5).doubles.map(Float.init),
                                        "land_sea_mask": (0..<(h * w)).map { Float($0 % 2) }],
                               frames: t, latitudes: (0..<h).map { 90 - 22.5 * Double($0) }, longitudes: (0..<w).map { 22.5 * Double($0) },
                               hours: (0..<t).map(Double.init), source: "")
        grid.mean = ["2m_temperature": 280, "land_sea_mask": 0.5]
        grid.std = ["2m_temperature": 5, "land_sea_mask": 0.5]
        grid.climatology = ["2m_temperature": [Float](repeating: 280, count: h * w)]
        let path = directory.appendingPathComponent("era5.h5").path
        try grid.write(to: path)
        for limit in [Int.max, 0] {
            let data = try ForecastDataset(directory: path, variables: ["t2m", "lsm"], outVariables: ["t2m"], leadHours: 1,
                                           residentLimit: limit, imageRows: 8)
            #expect(data.dropsLastRow && data.height == 8 && data.latitudes.last == -67.5 && data.isStreamed == (limit == 0))
            #expect(data.climatology[0].count == 8 * w)
            let (inputs, targets, _) = try data.batch([2])
            #expect(inputs.shape == [1, 2, 8, w] && targets.shape == [1, 1, 8, w])
            let field = grid.fields["2m_temperature"]!, expected = (0..<(8 * w)).map { Double((field[3 * h * w + $0] - 280) / 5) }
            #expect(zip(targets.doubles, expected).allSatisfy { abs($0 - $1) < 1e-5 })
            #expect(try data.shards[0].frame("land_sea_mask", 4).count == 8 * w)
        }
        let whole = try ForecastDataset(directory: path, variables: ["t2m"], outVariables: ["t2m"], leadHours: 1, imageRows: 9)
        let other = try ForecastDataset(directory: path, variables: ["t2m"], outVariables: ["t2m"], leadHours: 1, imageRows: 4)
        #expect(!whole.dropsLastRow && whole.height == 9 && !other.dropsLastRow && other.height == 9)
    }
}
