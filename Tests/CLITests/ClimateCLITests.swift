// The climate commands as a user runs them: make data, fine-tune, resume, forecast, bad input.
import Foundation
import Testing
import TestSupport

@Suite("scizoo climate commands")
struct ClimateCLITests {
    /// A 16-day synthetic atmosphere (4-day shards) and a recipe for a very small ClimaX at 12 h.
    static func setUp(_ directory: URL, steps: Int, valEvery: Int = 5) throws -> (data: String, recipe: String) {
        let data = directory.appendingPathComponent("climate").path
        let made = try CLI.run(["climate-synth", "--output", data, "--days", "16", "--shard-days", "4"])
        #expect(made.status == 0, "\(made.standardError)")
        let recipe = directory.appendingPathComponent("recipe.yaml").path
        try """
            seed_everything: 7
            trainer:
              max_epochs: 3
              max_steps: \(steps)
              val_check_interval: \(valEvery)
              limit_val_batches: 2
              log_every_n_steps: 5
            model:
              lr: 1e-3
              warmup_epochs: 3
              max_epochs: 40
              net:
                class_path: climax.arch.ClimaX
                init_args:
                  default_vars: [land_sea_mask, orography, lattitude, 2m_temperature, geopotential_500, temperature_850]
                  embed_dim: 32
                  depth: 1
                  decoder_depth: 1
                  num_heads: 2
                  drop_path: 0.1
                  drop_rate: 0.1
            data:
              root_dir: \(data)
              variables: [land_sea_mask, orography, lattitude, t2m, z_500, t_850]
              out_variables: [z_500, t_850]
              predict_range: 12
              batch_size: 4
              buffer_size: 64
            """.write(toFile: recipe, atomically: true, encoding: .utf8)
        return (data, recipe)
    }

    static func losses(_ metrics: String) throws -> [Int: Double] {
        var result: [Int: Double] = [:]
        for line in try String(contentsOfFile: metrics, encoding: .utf8).split(separator: "\n") {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            if let loss = object["train/w_mse"] as? Double, let step = object["step"] as? Int { result[step] = loss }
        }
        return result
    }

    @Test("climax-finetune trains, validates under ClimaX's keys, tests the best checkpoint; a resumed run continues the same curve")
    func finetuneAndResume() throws {
        let directory = try Fixtures.scratchDirectory()
        let (_, recipe) = try Self.setUp(directory, steps: 20)
        let whole = directory.appendingPathComponent("whole").path, split = directory.appendingPathComponent("split").path
        let run = try CLI.run(["climax-finetune", "--config", recipe, "--run-dir", whole, "--threads", "1"])
        #expect(run.status == 0, "\(run.standardError)")
        #expect(run.standardOutput.contains("val/w_rmse") && run.standardOutput.contains("persistence"))
        let metrics = try String(contentsOfFile: whole + "/metrics.jsonl", encoding: .utf8)
        #expect(metrics.contains("\"val/w_rmse_geopotential_500_12_hours\"") && metrics.contains("\"test/acc_temperature_850_12_hours\""))
        #expect(metrics.contains("\"test/w_rmse_global_geopotential_500_12_hours\""))
        #expect(FileManager.default.fileExists(atPath: whole + "/checkpoints/best.h5") && FileManager.default.fileExists(atPath: whole + "/test_scores.json"))
        let full = try Self.losses(whole + "/metrics.jsonl")
        #expect(full.count == 20 && full[20]! < full[1]!)

        // Ten steps, then the same recipe resumed to twenty: the same losses (dropout and drop path included).
        let shortRecipe = directory.appendingPathComponent("short.yaml").path
        try String(contentsOfFile: recipe, encoding: .utf8).replacingOccurrences(of: "max_steps: 20", with: "max_steps: 10")
            .write(toFile: shortRecipe, atomically: true, encoding: .utf8)
        #expect(try CLI.run(["climax-finetune", "--config", shortRecipe, "--run-dir", split, "--threads", "1"]).status == 0)
        let resumed = try CLI.run(["climax-finetune", "--config", recipe, "--run-dir", split, "--threads", "1", "--resume"])
        #expect(resumed.status == 0, "\(resumed.standardError)")
        #expect(resumed.standardOutput.contains("resumed from") && resumed.standardOutput.contains("at step 10"))
        let continued = try Self.losses(split + "/metrics.jsonl")
        #expect(continued.count == 20)
        for step in 1...20 { #expect(abs(continued[step]! - full[step]!) <= 1e-6 * abs(full[step]!), "step \(step)") }

        // Forecasts: a file in the input layout, a PNG per lead and the score table.
        let output = directory.appendingPathComponent("forecast").path
        let forecast = try CLI.run(["climax-forecast", "--checkpoint", whole + "/checkpoints/best.h5", "--data", directory.appendingPathComponent("climate/test").path,
                                    "--lead-hours", "12", "24", "--variable", "t_850", "--output", output, "--threads", "1"])
        #expect(forecast.status == 0, "\(forecast.standardError)")
        #expect(forecast.standardOutput.contains("temperature_850") && forecast.standardOutput.contains("fine-tuned for 12 h"))
        let check = try Subprocess.python("""
            import sys, h5py
            f = h5py.File(sys.argv[1] + '/forecast_12h.h5', 'r')
            png = open(sys.argv[1] + '/map_t_850_24h.png', 'rb').read(8)
            print(f['temperature_850'].shape[1:], f['geopotential_500'].dtype, f.attrs['lead_hours'], png[1:4].decode())
            """, arguments: [output])
        #expect(check.trimmingCharacters(in: .whitespacesAndNewlines) == "(1, 32, 64) float32 12 PNG")

        // A raw WeatherBench-style netCDF-4 file (no statistics, no climatology): the checkpoint's
        // training statistics normalise it and its own time mean serves as climatology.
        let netCDF = directory.appendingPathComponent("raw.nc").path
        _ = try Subprocess.python("""
            import sys, h5py, numpy as np, netCDF4
            src = h5py.File(sys.argv[1], 'r')
            with netCDF4.Dataset(sys.argv[2], 'w') as d:
                d.createDimension('time', None); d.createDimension('level', 2); d.createDimension('lat', 32); d.createDimension('lon', 64)
                t = d.createVariable('time', 'f8', ('time',)); t.units = 'hours since 1979-01-01'; t[:] = src['time'][:]
                d.createVariable('level', 'i4', ('level',))[:] = [500, 850]
                d.createVariable('lat', 'f8', ('lat',))[:] = src['lat'][:]; d.createVariable('lon', 'f8', ('lon',))[:] = src['lon'][:]
                for short, name in [('lsm', 'land_sea_mask'), ('orography', 'orography'), ('lat2d', 'lattitude')]:
                    d.createVariable(short, 'f4', ('lat', 'lon'))[:] = src[name][0, 0]
                d.createVariable('t2m', 'f4', ('time', 'lat', 'lon'))[:] = src['2m_temperature'][:, 0]
                z = src['geopotential_500'][:, 0]; t850 = src['temperature_850'][:, 0]
                d.createVariable('z', 'f4', ('time', 'level', 'lat', 'lon'))[:] = np.stack([z, z], axis=1)
                d.createVariable('t', 'f4', ('time', 'level', 'lat', 'lon'))[:] = np.stack([t850, t850], axis=1)
            """, arguments: [directory.appendingPathComponent("climate/test/000.h5").path, netCDF])
        let raw = try CLI.run(["climax-forecast", "--checkpoint", whole + "/checkpoints/best.h5", "--data", netCDF,
                               "--output", directory.appendingPathComponent("raw").path, "--threads", "1"])
        #expect(raw.status == 0, "\(raw.standardError)")
        #expect(raw.standardOutput.contains("  12  geopotential_500"))
    }

    @Test("bad recipes and data fail with one line naming the file and the key or variable")
    func badInput() throws {
        let directory = try Fixtures.scratchDirectory()
        let (_, recipe) = try Self.setUp(directory, steps: 2)
        let text = try String(contentsOfFile: recipe, encoding: .utf8)
        let typo = directory.appendingPathComponent("typo.yaml").path
        try text.replacingOccurrences(of: "predict_range", with: "predict_rang").write(toFile: typo, atomically: true, encoding: .utf8)
        let first = try CLI.run(["climax-finetune", "--config", typo, "--run-dir", directory.appendingPathComponent("a").path])
        #expect(first.status != 0 && first.standardError.contains(typo) && first.standardError.contains("did you mean 'predict_range'"))
        let unknown = directory.appendingPathComponent("unknown.yaml").path
        try text.replacingOccurrences(of: "out_variables: [z_500, t_850]", with: "out_variables: [z_500, q_700]")
            .write(toFile: unknown, atomically: true, encoding: .utf8)
        let second = try CLI.run(["climax-finetune", "--config", unknown, "--run-dir", directory.appendingPathComponent("b").path])
        #expect(second.status != 0 && second.standardError.contains("q_700") && second.standardError.contains("default_vars"))
        // A shard with a NaN stops the run naming the file, the variable and the index.
        let shard = directory.appendingPathComponent("climate/train/001.h5").path
        _ = try Subprocess.python("""
            import sys, h5py
            with h5py.File(sys.argv[1], 'r+') as f: f['temperature_850'][5, 0, 3, 4] = float('nan')
            """, arguments: [shard])
        let third = try CLI.run(["climax-finetune", "--config", recipe, "--run-dir", directory.appendingPathComponent("c").path])
        #expect(third.status != 0 && third.standardError.contains(shard) && third.standardError.contains("'temperature_850'")
                && third.standardError.contains("[time 5, lat 3, lon 4]"))
        #expect(third.standardError.split(separator: "\n").count == 1)
    }
}
