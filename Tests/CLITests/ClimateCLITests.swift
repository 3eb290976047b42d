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
            import sys, h5py, json
            f = h5py.File(sys.argv[1] + '/forecast_12h.h5', 'r')
            png = open(sys.argv[1] + '/map_t_850_24h.png', 'rb').read(8)
            scores = json.load(open(sys.argv[1] + '/scores.json'))
            prefix = 'forecast/w_rmse_temperature_850_'
            leads = sorted(k[len(prefix):] for k in scores if k.startswith(prefix))
            # The table row of t850 at 12 h carries the JSON's number.
            row = [l for l in open(sys.argv[1] + '/scores.txt') if l.startswith('  12  temperature_850')][0]
            same = ('%.4g' % scores[prefix + '12_hours']) == row.split()[2]
            print(f['temperature_850'].shape[1:], f['geopotential_500'].dtype, f.attrs['lead_hours'], png[1:4].decode(), leads, same)
            """, arguments: [output])
        #expect(check.trimmingCharacters(in: .whitespacesAndNewlines) == "(1, 32, 64) float32 12 PNG ['12_hours', '1_days'] True")

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

    @Test("a 5.625° checkpoint (best.h5) starts a fine-tune at 2.8125°: the position embedding is interpolated, the run trains")
    func finetuneFromCoarserGrid() throws {
        let directory = try Fixtures.scratchDirectory()
        let (_, recipe) = try Self.setUp(directory, steps: 3)
        let text = try String(contentsOfFile: recipe, encoding: .utf8)
        let coarse = directory.appendingPathComponent("coarse.yaml").path, fine = directory.appendingPathComponent("fine.yaml").path
        let coarseRun = directory.appendingPathComponent("coarse").path
        try text.replacingOccurrences(of: "num_heads: 2", with: "num_heads: 2\n      img_size: [32, 64]\n      patch_size: 4")
            .write(toFile: coarse, atomically: true, encoding: .utf8)
        let first = try CLI.run(["climax-finetune", "--config", coarse, "--run-dir", coarseRun, "--threads", "1"])
        #expect(first.status == 0, "\(first.standardError)")
        let data = directory.appendingPathComponent("climate-2.8125").path
        let made = try CLI.run(["climate-synth", "--output", data, "--days", "10", "--shard-days", "5", "--grid", "2.8125"])
        #expect(made.status == 0 && made.standardOutput.contains("64×128"), "\(made.standardError)")
        try text.replacingOccurrences(of: "num_heads: 2", with: "num_heads: 2\n      img_size: [64, 128]\n      patch_size: 4")
            .replacingOccurrences(of: "  lr: 1e-3", with: "  lr: 1e-3\n  pretrained_path: \(coarseRun)/checkpoints/best.h5")
            .replacingOccurrences(of: directory.appendingPathComponent("climate").path, with: data)
            .write(toFile: fine, atomically: true, encoding: .utf8)
        let run = try CLI.run(["climax-finetune", "--config", fine, "--run-dir", directory.appendingPathComponent("fine").path, "--threads", "1"])
        #expect(run.status == 0, "\(run.standardError)")
        #expect(run.standardOutput.contains("position embedding interpolated (bicubic) from 8×16 to 16×32 patches"), "\(run.standardOutput)")
        #expect(try Self.losses(directory.appendingPathComponent("fine/metrics.jsonl").path).count == 3)
        // This model does not forecast its input t2m, so its forecasts cannot be fed back.
        let rollout = try CLI.run(["climax-forecast", "--checkpoint", coarseRun + "/checkpoints/best.h5", "--data",
                                   directory.appendingPathComponent("climate/test").path, "--rollout", "2",
                                   "--output", directory.appendingPathComponent("rollout").path, "--threads", "1"])
        #expect(rollout.status != 0 && rollout.standardError.contains("time-varying input(s) 2m_temperature"), "\(rollout.standardError)")
    }

    @Test("climax-forecast --rollout 6h×3: three leads from one 6-hour model, each step fed back; scores equal NumPy's from the written files")
    func rollout() throws {
        let directory = try Fixtures.scratchDirectory()
        let (data, recipe) = try Self.setUp(directory, steps: 4)
        let sixHours = directory.appendingPathComponent("six.yaml").path
        try String(contentsOfFile: recipe, encoding: .utf8).replacingOccurrences(of: "out_variables: [z_500, t_850]", with: "out_variables: [t2m, z_500, t_850]")
            .replacingOccurrences(of: "predict_range: 12", with: "predict_range: 6")
            .write(toFile: sixHours, atomically: true, encoding: .utf8)
        let run = directory.appendingPathComponent("run").path
        let trained = try CLI.run(["climax-finetune", "--config", sixHours, "--run-dir", run, "--threads", "1"])
        #expect(trained.status == 0, "\(trained.standardError)")
        let output = directory.appendingPathComponent("rollout").path, test = data + "/test"
        let rolled = try CLI.run(["climax-forecast", "--checkpoint", run + "/checkpoints/best.h5", "--data", test, "--rollout", "6h×3",
                                  "--stride", "12", "--output", output, "--threads", "1"])
        #expect(rolled.status == 0, "\(rolled.standardError)")
        #expect(rolled.standardOutput.contains("  18  2m_temperature"), "\(rolled.standardOutput)")
        // NumPy: per-sample latitude-weighted RMSE of every lead and variable from the forecast files and the truth.
        let check = try Subprocess.python("""
            import sys, json, glob, h5py, numpy as np
            output, data = sys.argv[1], sys.argv[2]
            scores = json.load(open(output + '/scores.json'))
            truth = {}
            for path in sorted(glob.glob(data + '/*.h5')):
                f = h5py.File(path, 'r')
                for i, hour in enumerate(f['time'][:]):
                    truth[float(hour)] = {v: f[v][i, 0].astype(np.float64) for v in ('2m_temperature', 'geopotential_500', 'temperature_850')}
            worst, count = 0.0, 0
            for lead in (6, 12, 18):
                f = h5py.File(f'{output}/rollout_{lead}h.h5', 'r')
                w = np.cos(np.radians(f['lat'][:])); w = w / w.mean()
                for v in ('2m_temperature', 'geopotential_500', 'temperature_850'):
                    forecast = f[v][:, 0].astype(np.float64)
                    rmse = np.mean([np.sqrt(np.mean(w[:, None] * (forecast[n] - truth[float(h)][v]) ** 2)) for n, h in enumerate(f['time'][:])])
                    ours = scores[f'rollout/w_rmse_{v}_{lead}_hours']
                    worst = max(worst, abs(rmse - ours) / rmse); count += 1
            print(count, worst < 1e-5, worst)
            """, arguments: [output, test])
        let fields = check.split(separator: " ")
        #expect(fields.count == 3 && fields[0] == "9" && fields[1] == "True", "\(check)")
        // The first step is the direct forecast at the model's lead; a later step is not persistence of the first.
        let direct = try CLI.run(["climax-forecast", "--checkpoint", run + "/checkpoints/best.h5", "--data", test, "--stride", "12",
                                  "--output", directory.appendingPathComponent("direct").path, "--threads", "1"])
        #expect(direct.status == 0, "\(direct.standardError)")
        let same = try Subprocess.python("""
            import sys, h5py, numpy as np
            a, b = h5py.File(sys.argv[1], 'r'), h5py.File(sys.argv[2], 'r')
            common = np.intersect1d(a['time'][:], b['time'][:])
            ia, ib = [np.searchsorted(a['time'][:], common), np.searchsorted(b['time'][:], common)]
            print(len(common) > 0 and all(np.allclose(a[v][ia], b[v][ib], rtol=0, atol=1e-3 * np.abs(b[v][:]).max()) for v in ('2m_temperature', 'temperature_850')))
            """, arguments: [output + "/rollout_6h.h5", directory.appendingPathComponent("direct/forecast_6h.h5").path])
        #expect(same.trimmingCharacters(in: .whitespacesAndNewlines) == "True")
        // A rollout steps by the lead the model was fine-tuned for.
        let refused = try CLI.run(["climax-forecast", "--checkpoint", run + "/checkpoints/best.h5", "--data", test, "--rollout", "12h×2",
                                   "--output", output, "--threads", "1"])
        #expect(refused.status != 0 && refused.standardError.contains("fine-tuned for 6 h, not 12 h"), "\(refused.standardError)")
    }

    @Test("downscaling (data.coarsen_inputs 4, lead 0): trains, scores against the interpolated coarse field, forecasts; no rollout; lead 0 alone refused")
    func downscaling() throws {
        let directory = try Fixtures.scratchDirectory()
        let (data, recipe) = try Self.setUp(directory, steps: 6, valEvery: 3)
        let text = try String(contentsOfFile: recipe, encoding: .utf8)
        let downscale = directory.appendingPathComponent("downscale.yaml").path
        try text.replacingOccurrences(of: "predict_range: 12", with: "predict_range: 0\n  coarsen_inputs: 4")
            .write(toFile: downscale, atomically: true, encoding: .utf8)
        let run = directory.appendingPathComponent("run").path
        let trained = try CLI.run(["climax-finetune", "--config", downscale, "--run-dir", run, "--threads", "1"])
        #expect(trained.status == 0, "\(trained.standardError)")
        #expect(trained.standardOutput.contains("at 0 h") && trained.standardOutput.contains("interpolation"), "\(trained.standardOutput)")
        let scores = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: run + "/test_scores.json"))) as? [String: Double] ?? [:]
        #expect(scores["test/interpolation_w_rmse_geopotential_500_0_hours"] != nil && scores.keys.allSatisfy { !$0.contains("persistence") },
                "\(scores.keys.sorted())")
        // Forecasts at lead 0 from the checkpoint alone: the coarsening comes with it. The interpolation
        // baseline recomputed in NumPy from the test files (4×4 cos-latitude block means, np.interp back).
        let output = directory.appendingPathComponent("forecast").path
        let forecast = try CLI.run(["climax-forecast", "--checkpoint", run + "/checkpoints/best.h5", "--data", data + "/test",
                                    "--stride", "1", "--output", output, "--threads", "1"])
        #expect(forecast.status == 0, "\(forecast.standardError)")
        let check = try Subprocess.python("""
            import sys, json, glob, h5py, numpy as np
            output, data = sys.argv[1], sys.argv[2]
            scores = json.load(open(output + '/scores.json'))
            errors = []
            for path in sorted(glob.glob(data + '/*.h5')):
                f = h5py.File(path, 'r'); lat, lon = f['lat'][:], f['lon'][:]
                w = np.cos(np.radians(lat)); wn = w / w.mean()
                clat, clon = lat.reshape(-1, 4).mean(1), lon.reshape(-1, 4).mean(1)
                W = np.repeat(w[:, None], len(lon), 1).reshape(len(clat), 4, len(clon), 4)
                for x in f['geopotential_500'][:, 0].astype(np.float64):
                    c = (x.reshape(len(clat), 4, len(clon), 4) * W).sum((1, 3)) / W.sum((1, 3))
                    rows = np.stack([np.interp(lon, clon, r, period=360) for r in c])
                    back = np.stack([np.interp(lat, clat, rows[:, j]) for j in range(len(lon))], 1)
                    errors.append(np.sqrt(np.mean(wn[:, None] * (back - x) ** 2)))
            ours = scores['forecast/interpolation_w_rmse_geopotential_500_0_hours']
            print(abs(np.mean(errors) - ours) / ours < 1e-4, np.mean(errors), ours)
            """, arguments: [output, data + "/test"])
        #expect(check.hasPrefix("True"), "\(check)")
        let rollout = try CLI.run(["climax-forecast", "--checkpoint", run + "/checkpoints/best.h5", "--data", data + "/test", "--rollout", "2",
                                   "--output", directory.appendingPathComponent("rollout").path, "--threads", "1"])
        #expect(rollout.status != 0 && rollout.standardError.contains("downscales"), "\(rollout.standardError)")
        let leadZero = directory.appendingPathComponent("lead0.yaml").path
        try text.replacingOccurrences(of: "predict_range: 12", with: "predict_range: 0").write(toFile: leadZero, atomically: true, encoding: .utf8)
        let refused = try CLI.run(["climax-finetune", "--config", leadZero, "--run-dir", directory.appendingPathComponent("b").path])
        #expect(refused.status != 0 && refused.standardError.contains("predict_range") && refused.standardError.contains("coarsen_inputs"),
                "\(refused.standardError)")
    }

    @Test("climax-project on synthetic ClimateBench data: trains, scores ssp245 2080–2100 with ClimateBench's NRMSEs equal to NumPy's; bad input named")
    func projection() throws {
        let directory = try Fixtures.scratchDirectory()
        let data = directory.appendingPathComponent("climatebench").path
        let made = try CLI.run(["climatebench-synth", "--output", data, "--grid", "11.25", "--members", "2"])
        #expect(made.status == 0 && made.standardOutput.contains("16×32"), "\(made.standardError)")
        let recipe = directory.appendingPathComponent("projection.yaml").path
        let text = """
            seed_everything: 3
            trainer:
              max_steps: 6
              val_check_interval: 3
              log_every_n_steps: 3
            model:
              lr: 1e-3
              warmup_epochs: 2
              net:
                class_path: climax.climate_projection.arch.ClimaXClimateBench
                init_args:
                  default_vars: [CO2, SO2, CH4, BC]
                  out_vars: tas
                  img_size: [16, 32]
                  time_history: 3
                  patch_size: 4
                  embed_dim: 16
                  depth: 1
                  num_heads: 2
                  drop_path: 0.1
                  drop_rate: 0.1
            data:
              root_dir: \(data)
              history: 3
              out_variables: tas
              batch_size: 4
            """
        try text.write(toFile: recipe, atomically: true, encoding: .utf8)
        let run = directory.appendingPathComponent("run").path
        let trained = try CLI.run(["climax-project", "--config", recipe, "--run-dir", run, "--threads", "1"])
        #expect(trained.status == 0, "\(trained.standardError)")
        #expect(trained.standardOutput.contains("ssp245 2080–2100 (21 years)") && trained.standardOutput.contains("linear regression"), "\(trained.standardOutput)")
        // NumPy: ClimateBench's NRMSEs from the written maps, and the truth from the raw member files.
        let check = try Subprocess.python("""
            import sys, json, h5py, numpy as np
            run, data = sys.argv[1], sys.argv[2]
            scores = json.load(open(run + '/test_scores.json'))
            f = h5py.File(run + '/test_predictions.h5', 'r')
            w = np.cos(np.radians(f['lat'][:])); w = (w / w.mean())[:, None]
            truth = f['tas_truth'][:].astype(np.float64)
            raw = h5py.File(data + '/test/outputs_ssp245.h5', 'r')
            years = list(raw['time'][:].astype(int))
            members = raw['tas'][years.index(2080):years.index(2100) + 1].astype(np.float64).mean(axis=1)
            worst = np.abs(members - truth).max()
            def nrmse(p):
                norm = abs(np.mean(truth.mean(0) * w))
                s = np.sqrt(np.mean((p.mean(0) - truth.mean(0)) ** 2 * w)) / norm
                g = np.sqrt(np.mean((np.mean(p * w, axis=(1, 2)) - np.mean(truth * w, axis=(1, 2))) ** 2)) / norm
                return s, g, s + 5 * g
            for key, name in (('tas', ''), ('tas_regression', 'regression_')):
                for ours, value in zip(nrmse(f[key][:].astype(np.float64)), ('nrmse_s', 'nrmse_g', 'nrmse')):
                    worst = max(worst, abs(ours - scores[f'test/{name}{value}_tas']) / abs(ours))
            print(len(f['year'][:]), worst < 1e-5, worst)
            """, arguments: [run, data])
        #expect(check.hasPrefix("21 True"), "\(check)")
        // Stopped at step 3 and resumed, the run repeats the uninterrupted losses (dropout masks included).
        let half = directory.appendingPathComponent("half").path
        let stopped = try CLI.run(["climax-project", "--config", recipe, "--run-dir", half, "--threads", "1", "--stop-at-step", "3"])
        let resumed = try CLI.run(["climax-project", "--config", recipe, "--run-dir", half, "--threads", "1", "--resume"])
        #expect(stopped.status == 0 && resumed.status == 0, "\(stopped.standardError) \(resumed.standardError)")
        func losses(_ run: String) throws -> [Int: Double] {
            var result: [Int: Double] = [:]
            for line in try String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8).split(separator: "\n") {
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
                if let loss = object["train/loss"] as? Double, let step = object["step"] as? Int { result[step] = loss }
            }
            return result
        }
        let (whole, continued) = (try losses(run), try losses(half))
        #expect(whole.count == 6 && (1...6).allSatisfy { abs(continued[$0]! - whole[$0]!) <= 1e-6 * abs(whole[$0]!) }, "\(whole) \(continued)")
        // A misspelt output and a missing simulation are named.
        let wrong = directory.appendingPathComponent("wrong.yaml").path
        try text.replacingOccurrences(of: "out_variables: tas", with: "out_variables: tos").write(toFile: wrong, atomically: true, encoding: .utf8)
        let refused = try CLI.run(["climax-project", "--config", wrong, "--run-dir", directory.appendingPathComponent("b").path])
        #expect(refused.status != 0 && refused.standardError.contains("out_variables") && refused.standardError.contains("pr90"), "\(refused.standardError)")
        try FileManager.default.removeItem(atPath: data + "/train_val/outputs_hist-aer.h5")
        let missing = try CLI.run(["climax-project", "--config", recipe, "--run-dir", directory.appendingPathComponent("c").path])
        #expect(missing.status != 0 && missing.standardError.contains("outputs_hist-aer"), "\(missing.standardError)")
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
