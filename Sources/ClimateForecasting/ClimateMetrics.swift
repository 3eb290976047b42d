// Latitude-weighted scores (ClimaX src/climax/utils/metrics.py and WeatherBench v1 src/score.py).
// Both weight a grid row by w(lat) = cos(lat) / mean(cos(lat)); they differ in where the square
// root is taken, so every RMSE here says which convention it follows.
import Foundation
import TensorCore

public enum LatitudeWeights {
    /// w(lat) = cos(lat)/mean(cos(lat)) for latitudes in degrees.
    public static func weights(_ latitudes: [Double]) -> [Double] {
        let cosines = latitudes.map { cos($0 * .pi / 180) }
        let mean = cosines.reduce(0, +) / Double(Swift.max(1, cosines.count))
        return cosines.map { $0 / mean }
    }

    /// The training loss: mean over batch, variables, rows and columns of w(lat)·(prediction − target)².
    /// - Parameters: prediction and target `[B, V, H, W]`; latitudes: the H row latitudes in degrees.
    public static func meanSquaredError(_ prediction: Tensor, _ target: Tensor, latitudes: [Double]) -> Tensor {
        precondition(prediction.shape == target.shape && prediction.rank == 4 && prediction.shape[2] == latitudes.count,
                     "meanSquaredError: prediction \(prediction.shape), target \(target.shape), \(latitudes.count) latitudes")
        let w = Tensor(weights(latitudes), shape: [1, 1, latitudes.count, 1]).cast(to: prediction.dtype)
        return ((prediction - target).square() * w).mean()
    }
}

/// How an RMSE averages: ClimaX's `lat_weighted_rmse` takes the root per sample and then the
/// mean over samples; WeatherBench's `compute_weighted_rmse` takes one root of the mean over
/// time, latitude and longitude together.
public enum RMSEConvention: String, Sendable, CaseIterable {
    case perSample = "climax-per-sample"
    case global = "weatherbench-global"
}

/// Running sums for one variable's scores over many samples, in physical units.
public struct ClimateScoreAccumulator: Sendable {
    public let weights: [Double]
    public let width: Int
    public private(set) var samples = 0
    var rootsPerSample = 0.0
    var weightedSquares = 0.0, pointCount = 0.0
    // ACC sums: f′ = forecast − climatology, a′ = truth − climatology.
    var sw = 0.0, swf = 0.0, swa = 0.0, swfa = 0.0, swff = 0.0, swaa = 0.0, sf = 0.0, sa = 0.0

    public init(latitudes: [Double], width: Int) {
        weights = LatitudeWeights.weights(latitudes)
        self.width = width
    }

    /// Adds one sample: forecast, truth and climatology `[H, W]`.
    public mutating func add(forecast: ArraySlice<Float>, truth: ArraySlice<Float>, climatology: [Float]) {
        let h = weights.count, w = width
        precondition(forecast.count == h * w && truth.count == h * w && climatology.count == h * w, "ClimateScoreAccumulator: fields must be [\(h), \(w)]")
        var squares = 0.0
        let f0 = forecast.startIndex, t0 = truth.startIndex
        for row in 0..<h {
            let weight = weights[row]
            for column in 0..<w {
                let index = row * w + column
                let f = Double(forecast[f0 + index]), t = Double(truth[t0 + index]), c = Double(climatology[index])
                squares += weight * (f - t) * (f - t)
                let fa = f - c, ta = t - c
                sw += weight; swf += weight * fa; swa += weight * ta; swfa += weight * fa * ta
                swff += weight * fa * fa; swaa += weight * ta * ta; sf += fa; sa += ta
            }
        }
        rootsPerSample += (squares / Double(h * w)).squareRoot()
        weightedSquares += squares
        pointCount += Double(h * w)
        samples += 1
    }

    /// The running sums, for adding up over ranks (`merge`).
    public var sums: [Double] {
        [Double(samples), rootsPerSample, weightedSquares, pointCount, sw, swf, swa, swfa, swff, swaa, sf, sa]
    }

    /// Replaces the running sums with `totals` (e.g. `sums` all-reduced over ranks).
    public mutating func setSums(_ totals: [Double]) {
        precondition(totals.count == 12, "ClimateScoreAccumulator: 12 sums expected")
        samples = Int(totals[0]); rootsPerSample = totals[1]; weightedSquares = totals[2]; pointCount = totals[3]
        (sw, swf, swa, swfa, swff, swaa, sf, sa) = (totals[4], totals[5], totals[6], totals[7], totals[8], totals[9], totals[10], totals[11])
    }

    public func rmse(_ convention: RMSEConvention) -> Double {
        switch convention {
        case .perSample: rootsPerSample / Double(Swift.max(1, samples))
        case .global: (weightedSquares / Swift.max(1, pointCount)).squareRoot()
        }
    }

    /// Latitude-weighted anomaly correlation over every added sample: anomalies against the
    /// climatology, each centred on its own mean over samples and grid, then
    /// Σw·f′a′ / √(Σw·f′² · Σw·a′²) (ClimaX lat_weighted_acc and WeatherBench v1 compute_weighted_acc).
    public var acc: Double {
        let mf = sf / Swift.max(1, pointCount), ma = sa / Swift.max(1, pointCount)
        let cross = swfa - ma * swf - mf * swa + mf * ma * sw
        let ff = swff - 2 * mf * swf + mf * mf * sw
        let aa = swaa - 2 * ma * swa + ma * ma * sw
        return cross / (ff * aa).squareRoot()
    }
}

/// ClimaX's log key: `val/w_rmse_geopotential_500_3_days`, `test/acc_2m_temperature_5_days`.
public func climateMetricKey(split: String, metric: String, variable: String, leadHours: Int) -> String {
    "\(split)/\(metric)_\(ClimateVariables.canonical(variable))_\(ClimateVariables.leadPostfix(hours: leadHours))"
}
