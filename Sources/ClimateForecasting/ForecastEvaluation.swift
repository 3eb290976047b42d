// Scores a model on a split: forecasts de-normalised to physical units, then latitude-weighted
// RMSE (both conventions) and ACC per output variable, next to persistence and climatology.
import TensorCore

public struct ForecastScores: Sendable {
    public var model: [String: ClimateScoreAccumulator]
    public var persistence: [String: ClimateScoreAccumulator]
    public var climatology: [String: ClimateScoreAccumulator]
    /// What `persistence` holds: "persistence", or for downscaling "interpolation" (the coarse field interpolated).
    public var baselineName = "persistence"

    /// Empty accumulators for `variables` on a grid of `latitudes` × `width`.
    public init(variables: [String], latitudes: [Double], width: Int) {
        let empty = ClimateScoreAccumulator(latitudes: latitudes, width: width)
        let fresh = Dictionary(uniqueKeysWithValues: variables.map { ($0, empty) })
        (model, persistence, climatology) = (fresh, fresh, fresh)
    }

    /// Scores one forecast of `name` against its truth, with persistence (the initial time's frame)
    /// and climatology on the same sample.
    public mutating func add(_ name: String, forecast: ArraySlice<Float>, truth: ArraySlice<Float>, initial: ArraySlice<Float>, climatology: [Float]) {
        model[name]!.add(forecast: forecast, truth: truth, climatology: climatology)
        persistence[name]!.add(forecast: initial, truth: truth, climatology: climatology)
        self.climatology[name]!.add(forecast: climatology[...], truth: truth, climatology: climatology)
    }

    /// Log entries under ClimaX's keys (`<split>/w_rmse_<var>_<lead>`, `<split>/acc_…`, the mean
    /// `<split>/w_rmse`), plus the WeatherBench-convention RMSE and both baselines under their own labels.
    public func logEntries(split: String, leadHours: Int, variables: [String]) -> [String: Double] {
        var entries: [String: Double] = [:]
        var total = 0.0
        for name in variables {
            guard let scores = model[name] else { continue }
            entries[climateMetricKey(split: split, metric: "w_rmse", variable: name, leadHours: leadHours)] = scores.rmse(.perSample)
            entries[climateMetricKey(split: split, metric: "w_rmse_global", variable: name, leadHours: leadHours)] = scores.rmse(.global)
            entries[climateMetricKey(split: split, metric: "acc", variable: name, leadHours: leadHours)] = scores.acc
            if let p = persistence[name] {
                entries[climateMetricKey(split: split, metric: "\(baselineName)_w_rmse", variable: name, leadHours: leadHours)] = p.rmse(.perSample)
                entries[climateMetricKey(split: split, metric: "\(baselineName)_acc", variable: name, leadHours: leadHours)] = p.acc
            }
            if let c = climatology[name] {
                entries[climateMetricKey(split: split, metric: "climatology_w_rmse", variable: name, leadHours: leadHours)] = c.rmse(.perSample)
            }
            total += scores.rmse(.perSample)
        }
        entries["\(split)/w_rmse"] = total / Double(Swift.max(1, variables.count))
        return entries
    }
}

public enum ForecastEvaluation {
    /// Runs `model` on `batches` of `data` (no gradients, evaluation mode) and scores its
    /// forecasts, persistence and climatology on the same pairs. `combine` adds up the running
    /// sums over data-parallel ranks (identity on one process).
    /// `forecastMade` receives each forecast in physical units: pair index, output variable, field.
    public static func evaluate(_ model: ClimaX, data: ForecastDataset, batches: [[Int]], region: PatchRegion? = nil,
                                combine: ([Double]) throws -> [Double] = { $0 }, idleForwards: Int = 0,
                                forecastMade: ((Int, Int, [Float]) -> Void)? = nil) throws -> ForecastScores {
        let wasTraining = model.isTraining
        model.eval()
        defer { model.train(wasTraining) }
        let rows = region?.rows ?? 0..<data.height, columns = region?.columns ?? 0..<data.width
        let latitudes = rows.map { data.latitudes[$0] }
        func crop(_ field: ArraySlice<Float>) -> [Float] { data.cropped(field, to: region) }
        var scores = ForecastScores(variables: data.outVariables, latitudes: latitudes, width: columns.count)
        scores.baselineName = data.baselineName
        let climatology = data.climatology.map { crop($0[...]) }
        for batch in batches {
            let (inputs, _, leadTimes) = try data.batch(batch, region: region)
            let forecast = withNoGrad {
                model(inputs, leadTimes: leadTimes, variables: data.variables, outVariables: data.outVariables, region: region)
            }.scalars(as: Float.self)
            let size = rows.count * columns.count
            for (b, index) in batch.enumerated() {
                let (shard, t) = data.pairs[index]
                let grid = data.shards[shard]
                for (v, name) in data.outVariables.enumerated() {
                    let start = (b * data.outVariables.count + v) * size
                    let physical = forecast[start..<(start + size)].map { data.denormalise($0, variable: v) }
                    forecastMade?(index, v, physical)
                    scores.add(name, forecast: physical[...], truth: crop(try grid.frame(name, t + data.leadSteps))[...],
                               initial: crop(try data.baselineField(name, shard: shard, time: t))[...], climatology: climatology[v])
                }
            }
        }
        // Under ZeRO stage 3 a forward pass is collective (each block all-gathers its parameters): a rank
        // with fewer batches than its peers runs as many unscored forwards as they have more.
        if idleForwards > 0, let first = batches.first ?? (data.pairs.isEmpty ? nil : [0]) {
            let (inputs, _, leadTimes) = try data.batch(first, region: region)
            for _ in 0..<idleForwards {
                _ = withNoGrad { model(inputs, leadTimes: leadTimes, variables: data.variables, outVariables: data.outVariables, region: region) }
            }
        }
        // One reduction for every accumulator's sums.
        let names = data.outVariables
        let packed = names.flatMap { scores.model[$0]!.sums + scores.persistence[$0]!.sums + scores.climatology[$0]!.sums }
        let totals = try combine(packed)
        for (i, name) in names.enumerated() {
            let base = i * 36
            scores.model[name]!.setSums(Array(totals[base..<(base + 12)]))
            scores.persistence[name]!.setSums(Array(totals[(base + 12)..<(base + 24)]))
            scores.climatology[name]!.setSums(Array(totals[(base + 24)..<(base + 36)]))
        }
        return scores
    }
}
