// Forecasts from a fine-tuned ClimaX checkpoint (the inference script upstream lacks, ClimaX
// issues #51 and #39): forecast HDF5 files in the input layout, maps, and a per-lead score table.
import ClimateForecasting
import Foundation
import TensorCore
import TensorIO

public struct ClimaXForecastReport: Sendable {
    /// Per lead: the forecast file, the map and the scores.
    public var files: [String]
    public var maps: [String]
    public var table: String
    public var scores: [String: Double]

    /// scores.txt (the table) and scores.json (the same numbers by key) in `directory`, each written whole.
    func writeScores(to directory: String) throws {
        try (table + "\n").write(toFile: directory + "/scores.txt", atomically: true, encoding: .utf8)
        let json = try JSONSerialization.data(withJSONObject: scores, options: [.sortedKeys, .prettyPrinted])
        try json.write(to: URL(fileURLWithPath: directory + "/scores.json"), options: .atomic)
    }
}

public enum ClimaXForecaster {
    /// The score table's header and one row per lead and variable.
    static func tableHeader(baseline: String = "persistence") -> [String] {
        ["lead  variable                   model RMSE (per-sample | global)  ACC     " + (baseline + " RMSE").padding(toLength: 16, withPad: " ", startingAt: 0)
            + "  ACC     climatology RMSE",
         "----  -------------------------  --------------------------------  ------  ----------------  ------  ----------------"]
    }

    static func tableLine(lead: Int, variable name: String, scores: ForecastScores) -> String {
        let m = scores.model[name]!, p = scores.persistence[name]!, c = scores.climatology[name]!
        return String(format: "%4d  ", lead) + name.padding(toLength: 25, withPad: " ", startingAt: 0)
            + String(format: "  %14.4g | %-14.4g  %6.3f  %16.4g  %6.3f  %16.4g", m.rmse(.perSample), m.rmse(.global), m.acc,
                     p.rmse(.perSample), p.acc, c.rmse(.perSample))
    }

    /// Loads a checkpoint written by climax-finetune: the model and what it was trained for.
    public static func load(checkpoint path: String) throws -> (ClimaX, ClimaXCheckpointInfo) {
        guard FileManager.default.fileExists(atPath: path) else {
            throw FileError(file: path, message: "no checkpoint here; train first (scizoo climax-finetune) or pass --checkpoint")
        }
        let checkpoint = try Checkpoint.read(from: path)
        let info = try ClimaXCheckpointInfo.decode(checkpoint.config, file: path)
        let model = ClimaX(info.net)
        try model.loadStateDict(checkpoint.parameters)
        model.eval()
        return (model, info)
    }

    /// Forecasts from every `stride`-th initial time of `data` (a split folder or one file) at each
    /// lead; writes `forecast_<lead>h.h5` (the ClimaX layout, valid times) and a map of `variable`
    /// for initial time `mapIndex` into `output`.
    public static func run(checkpoint: String, data: String, leads: [Int]?, stride: Int = 6, variable: String?, mapIndex: Int = 0,
                           batchSize: Int = 8, output: String, log: (String) -> Void = { print($0) }) throws -> ClimaXForecastReport {
        let (model, info) = try load(checkpoint: checkpoint)
        let leads = leads ?? [info.leadHours]
        let mapVariable = ClimateVariables.canonical(variable ?? info.outVariables[0])
        guard let mapSlot = info.outVariables.firstIndex(of: mapVariable) else {
            throw FileError(file: checkpoint, message: "the model does not forecast '\(variable ?? "")'; it forecasts \(info.outVariables.joined(separator: ", "))")
        }
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        if leads.contains(where: { $0 != info.leadHours }) {
            log("note: this model was fine-tuned for \(info.leadHours) h (upstream trains one model per lead); other leads use its lead-time embedding untrained")
        }
        var report = ClimaXForecastReport(files: [], maps: [], table: "", scores: [:])
        // The model's own training statistics; files without /climatology are scored against their time mean.
        // The shards are read once; each lead pairs the same frames anew.
        let shards = try ForecastDataset(directory: data, variables: info.variables, outVariables: info.outVariables, leadHours: leads[0],
                                         statistics: info.mean.isEmpty ? nil : (info.mean, info.std), coarsenInputs: info.coarsenInputs,
                                         imageRows: info.net.imageSize[0])
        var lines = tableHeader(baseline: shards.baselineName)
        for lead in leads {
            let dataset = lead == leads[0] ? shards : try shards.atLead(lead)
            let region = try info.region.map {
                try ClimateRegions.patches(region: $0, latitudes: dataset.latitudes, longitudes: dataset.longitudes, patchSize: info.net.patchSize)
            }
            let chosen = Array(Swift.stride(from: 0, to: dataset.pairs.count, by: Swift.max(1, stride)))
            let batches = Swift.stride(from: 0, to: chosen.count, by: batchSize).map { Array(chosen[$0..<Swift.min(chosen.count, $0 + batchSize)]) }
            let rows = region?.rows ?? 0..<dataset.height, columns = region?.columns ?? 0..<dataset.width
            let size = rows.count * columns.count
            var fields = info.outVariables.map { _ in [Float](repeating: 0, count: chosen.count * size) }
            let slot = Dictionary(uniqueKeysWithValues: chosen.enumerated().map { ($1, $0) })
            let scores = try ForecastEvaluation.evaluate(model, data: dataset, batches: batches, region: region, forecastMade: { index, v, field in
                let position = slot[index]! * size
                fields[v].replaceSubrange(position..<(position + size), with: field)
            })
            // The forecast file: output variables at valid times, in the layout of the inputs.
            let validHours = chosen.map { index -> Double in
                let (shard, t) = dataset.pairs[index]
                return dataset.shards[shard].hours[t + dataset.leadSteps]
            }
            var grid = ClimateGrid(variables: info.outVariables, fields: Dictionary(uniqueKeysWithValues: zip(info.outVariables, fields)),
                                   frames: chosen.count, latitudes: rows.map { dataset.latitudes[$0] }, longitudes: columns.map { dataset.longitudes[$0] },
                                   hours: validHours, source: data)
            grid.attributes = ["lead_hours": String(lead), "checkpoint": checkpoint, "source": data]
            let file = output + "/forecast_\(lead)h.h5"
            try grid.write(to: file)
            report.files.append(file)
            // The map of one initial time.
            let pick = Swift.min(Swift.max(0, mapIndex), chosen.count - 1)
            let (shard, t) = dataset.pairs[chosen[pick]]
            let source = dataset.shards[shard]
            let truthFrame = try source.frame(mapVariable, t + dataset.leadSteps)
            let truth = dataset.cropped(truthFrame, to: region)
            let forecast = Array(fields[mapSlot][(pick * size)..<((pick + 1) * size)])
            // Coastlines: the land mask the shard already holds as an input, else read from its file.
            let land = source.variables.contains("land_sea_mask") ? try source.frame("land_sea_mask", 0)
                : try? GridReader.read(path: dataset.files[shard], variables: ["land_sea_mask"]).frame("land_sea_mask", 0)
            let mask = land.map { dataset.cropped($0, to: region) }
            var mapScore = ClimateScoreAccumulator(latitudes: rows.map { dataset.latitudes[$0] }, width: columns.count)
            mapScore.add(forecast: forecast[...], truth: truth[...], climatology: [Float](repeating: 0, count: size))
            let rmse = mapScore.rmse(.perSample)
            let title = "\(ClimateVariables.short(mapVariable)) (\(mapVariable))  lead \(lead) h  init hour \(Int(source.hours[t]))  valid hour "
                + "\(Int(source.hours[t + dataset.leadSteps]))  lat-weighted RMSE " + String(format: "%.4g", rmse)
            let image = ForecastMaps.render(truth: truth, forecast: forecast, latitudes: rows.map { dataset.latitudes[$0] }, width: columns.count,
                                            title: title, units: ClimateVariables.units(mapVariable), landMask: mask)
            let map = output + "/map_\(ClimateVariables.short(mapVariable))_\(lead)h.png"
            try PNG.write(width: image.width, height: image.height, rgb: image.pixels, to: map)
            report.maps.append(map)
            lines += info.outVariables.map { tableLine(lead: lead, variable: $0, scores: scores) }
            report.scores.merge(scores.logEntries(split: "forecast", leadHours: lead, variables: info.outVariables)) { a, _ in a }
            log("lead \(lead) h: \(chosen.count) forecasts → \(file), \(map)")
        }
        lines.append("(latitude-weighted RMSE: ClimaX's per-sample mean | WeatherBench's global; ACC against the data's climatology; "
                     + "\(shards.baselineName) and climatology on the same initial times)")
        report.table = lines.joined(separator: "\n")
        try report.writeScores(to: output)
        return report
    }
}
