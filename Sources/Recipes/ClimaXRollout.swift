// Iterative forecasts (ClimaX paper §4.1's "iterative" mode): a model fine-tuned for lead L is
// applied N times, each step's forecast of every time-varying input fed back as the next step's
// input (constants stay the initial time's), giving leads L, 2L, …, N·L. Each lead is written as a
// forecast file in the input layout and scored like a direct forecast (latitude-weighted RMSE,
// ACC, persistence and climatology on the same initial times).
import ClimateForecasting
import Foundation
import TensorCore
import TensorIO

public enum ClimaXRollout {
    /// Parses `6h×4`, `6hx4` or `4`: the step (hours, optional) and the number of steps.
    public static func parse(_ text: String) -> (stepHours: Int?, steps: Int)? {
        let parts = text.replacingOccurrences(of: "×", with: "x").lowercased().split(separator: "x", omittingEmptySubsequences: false)
        switch parts.count {
        case 1: return Int(parts[0]).flatMap { $0 >= 1 ? (nil, $0) : nil }
        case 2:
            guard parts[0].hasSuffix("h"), let hours = Int(parts[0].dropLast()), hours >= 1, let steps = Int(parts[1]), steps >= 1 else { return nil }
            return (hours, steps)
        default: return nil
        }
    }

    /// Rolls the checkpoint's model out `steps` times from every `stride`-th initial time of `data`.
    public static func run(checkpoint: String, data: String, stepHours: Int?, steps: Int, stride: Int = 6, batchSize: Int = 8,
                           output: String, log: (String) -> Void = { print($0) }) throws -> ClimaXForecastReport {
        let (model, info) = try ClimaXForecaster.load(checkpoint: checkpoint)
        if let stepHours, stepHours != info.leadHours {
            throw FileError(file: checkpoint, message: "a rollout steps by the model's lead: it was fine-tuned for \(info.leadHours) h, not \(stepHours) h")
        }
        guard info.coarsenInputs == nil else {
            throw FileError(file: checkpoint, message: "the model downscales (lead 0, inputs coarsened \(info.coarsenInputs!)×); it has no forecasts to roll out")
        }
        guard info.region == nil else {
            throw FileError(file: checkpoint, message: "the model forecasts the region \(info.region!) only, so its forecasts cannot be fed back as global inputs")
        }
        // Pairs at the whole rollout's lead: each initial time has every step's truth in its shard.
        let dataset = try ForecastDataset(directory: data, variables: info.variables, outVariables: info.outVariables, leadHours: info.leadHours * steps,
                                          statistics: info.mean.isEmpty ? nil : (info.mean, info.std), imageRows: info.net.imageSize[0])
        let stepFrames = dataset.leadSteps / steps
        // Where each input comes from after the first step: the forecast of the same variable, or its constant frame.
        let fedBack = dataset.variables.map { dataset.outVariables.firstIndex(of: $0) }
        let missing = dataset.variables.indices.filter { v in
            fedBack[v] == nil && !dataset.shards.allSatisfy { $0.isConstant(dataset.variables[v]) }
        }.map { dataset.variables[$0] }
        guard missing.isEmpty else {
            throw FileError(file: checkpoint, message: "a rollout feeds forecasts back as inputs, but the model does not forecast the "
                                   + "time-varying input(s) \(missing.joined(separator: ", ")); fine-tune with them among out_variables")
        }
        let chosen = Array(Swift.stride(from: 0, to: dataset.pairs.count, by: Swift.max(1, stride)))
        guard !chosen.isEmpty else { throw FileError(file: data, message: "no initial time has \(steps) steps of \(info.leadHours) h ahead in its shard") }
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let (h, w) = (dataset.height, dataset.width), size = h * w
        let (inputs, outputs) = (dataset.variables, dataset.outVariables)
        var scores = (1...steps).map { _ in ForecastScores(variables: outputs, latitudes: dataset.latitudes, width: w) }
        // Forecasts by lead, variable: [initial time, H·W].
        var fields = (1...steps).map { _ in outputs.map { _ in [Float](repeating: 0, count: chosen.count * size) } }
        let lead = Tensor([Float](repeating: Float(Double(info.leadHours) / 100), count: batchSize), shape: [batchSize])
        model.eval()
        for start in Swift.stride(from: 0, to: chosen.count, by: batchSize) {
            let batch = Array(chosen[start..<Swift.min(chosen.count, start + batchSize)])
            // The state in physical units: [sample][input variable] → [H·W], first the initial time's frames.
            var state = try batch.map { index -> [[Float]] in
                let (shard, t) = dataset.pairs[index]
                return try inputs.map { Array(try dataset.shards[shard].frame($0, t)) }
            }
            for k in 0..<steps {
                var normalised = [Float](repeating: 0, count: batch.count * inputs.count * size)
                for b in batch.indices {
                    for v in inputs.indices { dataset.normaliseInput(state[b][v], variable: v, into: &normalised, at: (b * inputs.count + v) * size) }
                }
                let forecast = withNoGrad {
                    model(Tensor(normalised, shape: [batch.count, inputs.count, h, w]), leadTimes: lead.sliced(axis: 0, 0, batch.count),
                          variables: inputs, outVariables: outputs)
                }.scalars(as: Float.self)
                for (b, index) in batch.enumerated() {
                    let (shard, t) = dataset.pairs[index]
                    let grid = dataset.shards[shard], slot = start + b
                    for (v, name) in outputs.enumerated() {
                        let offset = (b * outputs.count + v) * size
                        let physical = forecast[offset..<(offset + size)].map { dataset.denormalise($0, variable: v) }
                        fields[k][v].replaceSubrange((slot * size)..<((slot + 1) * size), with: physical)
                        scores[k].add(name, forecast: physical[...], truth: try grid.frame(name, t + (k + 1) * stepFrames),
                                      initial: try grid.frame(name, t), climatology: dataset.climatology[v])
                    }
                    for v in inputs.indices { if let o = fedBack[v] { state[b][v] = Array(fields[k][o][(slot * size)..<((slot + 1) * size)]) } }
                }
            }
        }
        var report = ClimaXForecastReport(files: [], maps: [], table: "", scores: [:])
        var lines = ClimaXForecaster.tableHeader()
        for k in 0..<steps {
            let leadHours = (k + 1) * info.leadHours
            let validHours = chosen.map { index -> Double in
                let (shard, t) = dataset.pairs[index]
                return dataset.shards[shard].hours[t + (k + 1) * stepFrames]
            }
            var grid = ClimateGrid(variables: outputs, fields: Dictionary(uniqueKeysWithValues: zip(outputs, fields[k])), frames: chosen.count,
                                   latitudes: dataset.latitudes, longitudes: dataset.longitudes, hours: validHours, source: data)
            grid.attributes = ["lead_hours": String(leadHours), "rollout_step": String(k + 1), "checkpoint": checkpoint, "source": data]
            let file = output + "/rollout_\(leadHours)h.h5"
            try grid.write(to: file)
            report.files.append(file)
            lines += outputs.map { ClimaXForecaster.tableLine(lead: leadHours, variable: $0, scores: scores[k]) }
            report.scores.merge(scores[k].logEntries(split: "rollout", leadHours: leadHours, variables: outputs)) { a, _ in a }
            log("lead \(leadHours) h (step \(k + 1) of \(steps)): \(chosen.count) forecasts → \(file)")
        }
        lines.append("(a rollout of \(steps) steps of \(info.leadHours) h; latitude-weighted RMSE: ClimaX's per-sample mean | WeatherBench's global; "
                     + "ACC against the data's climatology; persistence and climatology on the same initial times)")
        report.table = lines.joined(separator: "\n")
        try report.writeScores(to: output)
        return report
    }
}
