// ClimateBench's scores (Watson-Parris et al. 2022; upstream utils/metrics.py lat_weighted_nrmses,
// _nrmseg, _nrmse) over a whole test set, and a linear baseline to hold them against.
//
// With w(lat) = cos(lat)/mean(cos(lat)) and ⟨·⟩ the w-weighted mean over the grid:
//   NRMSE_s = √⟨(mean_t ŷ − mean_t y)²⟩ / |⟨mean_t y⟩|   (the time-mean map)
//   NRMSE_g = √mean_t (⟨ŷ⟩ − ⟨y⟩)² / |⟨mean_t y⟩|        (the global-mean series)
//   NRMSE   = NRMSE_s + 5 · NRMSE_g.
// Upstream computes them per batch and Lightning averages the batches; with its batch size of 1 the
// time means become single years. Here they are ClimateBench's: over every test year at once.
import Foundation

public enum ClimateBenchScores {
    /// Scores of `predictions` against `truths` (each `[N][H·W]`): w_mse, w_rmse (per-sample
    /// latitude-weighted RMSE, averaged), nrmse_s, nrmse_g and nrmse.
    public static func score(_ predictions: [[Float]], truths: [[Float]], latitudes: [Double], width: Int) -> [String: Double] {
        let cellWeights = LatitudeWeights.weights(latitudes).flatMap { [Double](repeating: $0, count: width) }
        let cells = cellWeights.count, n = Double(predictions.count)
        func weightedMean(_ field: [Double]) -> Double { zip(field, cellWeights).map(*).reduce(0, +) / Double(cells) }
        var mse = 0.0, rmse = 0.0, globalError = 0.0
        var meanPrediction = [Double](repeating: 0, count: cells), meanTruth = meanPrediction
        for (prediction, truth) in zip(predictions, truths) {
            let p = prediction.map(Double.init), y = truth.map(Double.init)
            let squared = weightedMean(zip(p, y).map { ($0 - $1) * ($0 - $1) })
            (mse, rmse) = (mse + squared, rmse + squared.squareRoot())
            let g = weightedMean(p) - weightedMean(y)
            globalError += g * g
            for c in 0..<cells { meanPrediction[c] += p[c] / n; meanTruth[c] += y[c] / n }
        }
        let normaliser = abs(weightedMean(meanTruth))
        let spatial = weightedMean(zip(meanPrediction, meanTruth).map { ($0 - $1) * ($0 - $1) }).squareRoot() / normaliser
        let global = (globalError / n).squareRoot() / normaliser
        return ["w_mse": mse / n, "w_rmse": rmse / n, "nrmse_s": spatial, "nrmse_g": global, "nrmse": spatial + 5 * global]
    }
}

/// The baseline: per grid cell, a least-squares line through the last year's global forcings
/// (CO2, CH4, and SO2 and BC summed over the grid) fitted on the training windows.
public struct ForcingRegression {
    /// `[features + 1][H·W]`: the intercept's map first.
    let coefficients: [[Double]]
    let featureMean: [Double], featureScale: [Double]

    /// The last year's global forcings of window `index`.
    static func features(_ data: ClimateBenchDataset, window index: Int) -> [Double] {
        let (s, end) = data.windows[index], cells = data.height * data.width, v = data.variables.count
        return (0..<v).map { j in
            let base = (end * v + j) * cells
            return data.simulations[s].inputs[base..<(base + cells)].reduce(0) { $0 + Double($1) }
        }
    }

    public init(data: ClimateBenchDataset, windows: [Int]) {
        let rows = windows.map { Self.features(data, window: $0) }, k = data.variables.count
        let mean = (0..<k).map { j in rows.map { $0[j] }.reduce(0, +) / Double(rows.count) }
        let scale = (0..<k).map { j in Swift.max(1e-12, (rows.map { pow($0[j] - mean[j], 2) }.reduce(0, +) / Double(rows.count)).squareRoot()) }
        (featureMean, featureScale) = (mean, scale)
        let design = rows.map { row in [1] + (0..<k).map { (row[$0] - mean[$0]) / scale[$0] } }
        // Normal equations (XᵀX + εI) β = Xᵀy, one matrix for every cell.
        let p = k + 1, cells = data.height * data.width
        var gram = [[Double]](repeating: [Double](repeating: 0, count: p), count: p)
        for x in design { for a in 0..<p { for b in 0..<p { gram[a][b] += x[a] * x[b] } } }
        for a in 0..<p { gram[a][a] += 1e-8 * Double(design.count) }
        var right = [[Double]](repeating: [Double](repeating: 0, count: cells), count: p)
        for (x, index) in zip(design, windows) {
            let target = data.target(of: index)
            for a in 0..<p { for c in 0..<cells { right[a][c] += x[a] * Double(target[target.startIndex + c]) } }
        }
        coefficients = Self.solve(gram, right)
    }

    /// Gaussian elimination with partial pivoting of a small system with many right-hand sides.
    static func solve(_ matrix: [[Double]], _ right: [[Double]]) -> [[Double]] {
        var a = matrix, b = right
        let n = a.count
        for column in 0..<n {
            let pivot = (column..<n).max { abs(a[$0][column]) < abs(a[$1][column]) }!
            a.swapAt(column, pivot); b.swapAt(column, pivot)
            for row in (column + 1)..<n where a[row][column] != 0 {
                let factor = a[row][column] / a[column][column]
                for j in column..<n { a[row][j] -= factor * a[column][j] }
                for c in b[row].indices { b[row][c] -= factor * b[column][c] }
            }
        }
        for column in stride(from: n - 1, through: 0, by: -1) {
            for c in b[column].indices {
                var value = b[column][c]
                for j in (column + 1)..<n { value -= a[column][j] * b[j][c] }
                b[column][c] = value / a[column][column]
            }
        }
        return b
    }

    /// The baseline's map for window `index` of `data`.
    public func predict(_ data: ClimateBenchDataset, window index: Int) -> [Float] {
        let x = [1] + Self.features(data, window: index).enumerated().map { ($1 - featureMean[$0]) / featureScale[$0] }
        return coefficients[0].indices.map { c in Float(x.indices.reduce(0) { $0 + x[$1] * coefficients[$1][c] }) }
    }
}
