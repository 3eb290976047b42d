// The two forecasts any model must beat: persistence (the input frame, unchanged; for
// downscaling, the coarse field interpolated) and the split's climatology (its time mean at every lead).

public enum ForecastBaselines {
    public struct Scores: Sendable {
        public var persistence: ClimateScoreAccumulator
        public var climatology: ClimateScoreAccumulator
    }

    /// Scores of both baselines for every output variable over all pairs of `data`.
    public static func evaluate(_ data: ForecastDataset) throws -> [String: Scores] {
        var result: [String: Scores] = [:]
        for (v, name) in data.outVariables.enumerated() {
            var persistence = ClimateScoreAccumulator(latitudes: data.latitudes, width: data.width)
            var climatology = persistence
            let mean = data.climatology[v]
            for (shard, t) in data.pairs {
                let grid = data.shards[shard]
                let truth = try grid.frame(name, t + data.leadSteps)
                persistence.add(forecast: try data.baselineField(name, shard: shard, time: t), truth: truth, climatology: mean)
                climatology.add(forecast: mean[...], truth: truth, climatology: mean)
            }
            result[name] = Scores(persistence: persistence, climatology: climatology)
        }
        return result
    }
}
