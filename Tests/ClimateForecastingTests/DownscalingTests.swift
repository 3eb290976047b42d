import Foundation
import TensorIO
import Testing
import TestSupport
@testable import ClimateForecasting
import TensorCore

@Suite("Downscaling: inputs coarsened (area-weighted blocks) and interpolated back (bilinear)")
struct DownscalingTests {
    @Test("block means and bilinear interpolation equal NumPy's (np.interp, periodic in longitude), in both latitude orders")
    func coarseningEqualsNumPy() throws {
        for descending in [false, true] {
            var latitudes = (0..<16).map { -84.375 + 11.25 * Double($0) }
            if descending { latitudes.reverse() }
            let longitudes = (0..<32).map { 11.25 * Double($0) }
            var generator = RandomGenerator(seed: 3)
            let field = generator.normal([16 * 32], dtype: .float64).doubles.map(Float.init)
            let coarsening = try GridCoarsening(factor: 4, latitudes: latitudes, longitudes: longitudes, source: "test")
            let ours = coarsening.seenCoarse(field)
            let expected = try Subprocess.python("""
                import sys, json, numpy as np
                lat, lon, f = (np.array(json.loads(a)) for a in sys.argv[1:4])
                f = f.reshape(16, 32); k = 4
                w = np.cos(np.deg2rad(lat))[:, None] * np.ones((1, 32))
                coarse = (f * w).reshape(4, k, 8, k).sum(axis=(1, 3)) / w.reshape(4, k, 8, k).sum(axis=(1, 3))
                clat = lat.reshape(4, k).mean(axis=1); clon = lon.reshape(8, k).mean(axis=1)
                rows = np.stack([np.interp(lon, clon, r, period=360) for r in coarse])        # [4, 32]
                order = np.argsort(clat)
                out = np.stack([np.interp(lat, clat[order], rows[order, j]) for j in range(32)], axis=1)
                print(json.dumps(out.ravel().tolist()))
                """, arguments: [latitudes.description, longitudes.description, field.map(Double.init).description])
            let numpy = try JSONDecoder().decode([Double].self, from: Data(expected.utf8))
            let worst = zip(ours, numpy).map { abs(Double($0) - $1) }.max()!
            #expect(worst < 1e-5, "latitudes \(descending ? "descending" : "ascending"): max |ours − NumPy| \(worst)")
        }
    }

    @Test("a constant field survives coarsening and interpolation; a grid that does not split into blocks is refused")
    func constantsAndRefusals() throws {
        let coarsening = try GridCoarsening(factor: 2, latitudes: [-45, -15, 15, 45], longitudes: [0, 90, 180, 270], source: "test")
        #expect(coarsening.seenCoarse([Float](repeating: 7.5, count: 16)).allSatisfy { abs($0 - 7.5) < 1e-6 })
        #expect(coarsening.coarseLatitudes == [-30, 30] && coarsening.coarseLongitudes == [45, 225])
        #expect(throws: FileError.self) { try GridCoarsening(factor: 3, latitudes: [-45, -15, 15, 45], longitudes: [0, 90, 180, 270], source: "x.h5") }
    }

    @Test("a downscaling batch: time-varying inputs seen coarse, constants and targets fine at the same time; the baseline is the interpolation")
    func downscalingBatch() throws {
        let directory = try Fixtures.scratchDirectory("downscaling-atmosphere").path
        var atmosphere = SyntheticAtmosphere(days: 3, seed: 9)
        atmosphere.shardDays = 3
        try atmosphere.write(to: directory)
        let split = directory + "/train"
        let data = try ForecastDataset(directory: split, variables: ["lsm", "t2m", "z_500"], outVariables: ["t2m"], leadHours: 0, coarsenInputs: 4)
        let plain = try ForecastDataset(directory: split, variables: ["lsm", "t2m", "z_500"], outVariables: ["t2m"], leadHours: 0)
        #expect(data.baselineName == "interpolation" && plain.baselineName == "persistence")
        #expect(data.pairs.count == data.shards.map(\.frames).reduce(0, +))
        let index = 5, (shard, t) = data.pairs[index]
        let (inputs, targets, _) = try data.batch([index]), (fineInputs, fineTargets, _) = try plain.batch([index])
        let size = 32 * 64, coarsening = try #require(data.coarsening)
        let (ours, fine) = (inputs.doubles, fineInputs.doubles)
        // The land mask is constant: fine. t2m is seen coarse, normalised with the same statistics.
        #expect(ours[0..<size] == fine[0..<size])
        let seen = coarsening.seenCoarse(try data.shards[shard].frame("2m_temperature", t))
        let normalised = seen.map { (Double($0) - data.inputMean[1]) / data.inputStd[1] }
        #expect(zip(ours[size..<(2 * size)], normalised).allSatisfy { abs($0 - $1) < 1e-5 })
        #expect(ours[size..<(2 * size)] != fine[size..<(2 * size)])
        #expect(targets.doubles == fineTargets.doubles)
        // The fine target at lead 0 is the fine input of the plain dataset.
        #expect(zip(targets.doubles, fine[size..<(2 * size)]).allSatisfy { abs($0 - $1) < 1e-6 })
        #expect(Array(try data.baselineField("2m_temperature", shard: shard, time: t)) == seen)
        // Interpolation loses detail, more from a coarser grid.
        let halfway = try ForecastDataset(directory: split, variables: ["t2m"], outVariables: ["t2m"], leadHours: 0, coarsenInputs: 2)
        let (by4, by2) = (try ForecastBaselines.evaluate(data)["2m_temperature"]!.persistence.rmse(.perSample),
                          try ForecastBaselines.evaluate(halfway)["2m_temperature"]!.persistence.rmse(.perSample))
        #expect(by2 > 0.01 && by4 > 1.5 * by2, "interpolation RMSE from 2× coarser \(by2), from 4× coarser \(by4)")
    }
}
