import Foundation
import TensorIO
import Testing
import TestSupport
@testable import ClimateForecasting
import TensorCore

@Suite("ClimateBench data: windows, statistics and batches as upstream's datamodule builds them")
struct ClimateBenchDatasetTests {
    @Test("windows, input statistics and a normalised batch equal NumPy's transcription of upstream's dataset.py (every scenario skipping historical)")
    func windowsStatisticsBatch() throws {
        let directory = try Fixtures.scratchDirectory("climatebench").path
        var bench = SyntheticClimateBench(seed: 4, coarsening: 2)
        bench.members = 2
        try bench.write(to: directory)
        let simulations = ["ssp126", "historical", "ssp585", "hist-aer"]
        let data = try ClimateBenchDataset(folder: directory + "/train_val", simulations: simulations, variables: ["CO2", "SO2", "CH4", "BC"],
                                           outVariable: "pr", history: 5)
        // Scenarios: 86 windows ending 2015…2100; historical runs: 165 − 5 + 1.
        #expect(data.windows.count == 86 + 161 + 86 + 161)
        let chosen = Array(stride(from: 0, to: data.windows.count, by: 3))
        let (mean, std) = data.statistics(of: chosen)
        let picked = [0, 100, 250, data.windows.count - 1]
        let (inputs, targets) = data.batch(picked, mean: mean, std: std)
        let numpy = try Subprocess.python("""
            import sys, json, h5py, numpy as np
            root, sims, chosen, picked = sys.argv[1], sys.argv[2].split(','), json.loads(sys.argv[3]), json.loads(sys.argv[4])
            def load(name):
                i, o = h5py.File(f'{root}/inputs_{name}.h5', 'r'), h5py.File(f'{root}/outputs_{name}.h5', 'r')
                h, w = len(o['lat']), len(o['lon'])
                x = np.stack([np.broadcast_to(i[v][:][:, None, None], (len(i[v]), h, w)) if i[v].ndim == 1 else i[v][:]
                              for v in ('CO2', 'SO2', 'CH4', 'BC')], axis=1)        # N, C, H, W (xarray's to_array, transposed)
                y = o['pr'][:].mean(axis=1) * 86400                                      # the ensemble mean, mm/day
                return x.astype(np.float32), y.astype(np.float32)
            xs, ys = [], []
            for name in sims:
                x, y = load(name)
                if name.startswith('ssp'):
                    hx, hy = load('historical'); x, y = np.concatenate([hx, x]), np.concatenate([hy, y])
                start = 165 - 5 + 1 if name.startswith('ssp') else 0                    # input_for_training, skip_historical
                xs += [x[k:k + 5] for k in range(start, len(x) - 5 + 1)]
                ys += [y[k + 5 - 1] for k in range(start, len(x) - 5 + 1)]
            X, Y = np.array(xs), np.array(ys)
            train = X[chosen].astype(np.float64)
            mean, std = train.mean(axis=(0, 1, 3, 4)), train.std(axis=(0, 1, 3, 4))    # get_normalize
            batch = (X[picked] - mean[None, None, :, None, None]) / std[None, None, :, None, None]
            print(json.dumps({'count': len(X), 'mean': mean.tolist(), 'std': std.tolist(),
                              'batch': batch.ravel().tolist(), 'targets': Y[picked].ravel().tolist()}))
            """, arguments: [directory + "/train_val", simulations.joined(separator: ","), chosen.description, picked.description])
        struct Reference: Decodable { let count: Int; let mean: [Double], std: [Double], batch: [Double], targets: [Double] }
        let reference = try JSONDecoder().decode(Reference.self, from: Data(numpy.utf8))
        #expect(reference.count == data.windows.count)
        for j in 0..<4 {
            #expect(abs(mean[j] - reference.mean[j]) <= 1e-6 * Swift.max(1, abs(reference.mean[j])), "mean \(j): \(mean[j]) vs \(reference.mean[j])")
            #expect(abs(std[j] - reference.std[j]) <= 1e-5 * reference.std[j], "std \(j): \(std[j]) vs \(reference.std[j])")
        }
        let batchError = zip(inputs.doubles, reference.batch).map { abs($0 - $1) }.max()!
        let targetError = zip(targets.doubles, reference.targets).map { abs($0 - $1) }.max()!
        #expect(batchError < 1e-4 && targetError < 1e-6, "batch \(batchError), targets \(targetError)")
        #expect(inputs.shape == [4, 5, 4, 16, 32] && targets.shape == [4, 1, 16, 32])
        // A seeded split: the same seed, the same split; disjoint and whole.
        let (a, b) = data.split(trainRatio: 0.9, seed: 7)
        #expect(data.split(trainRatio: 0.9, seed: 7).train == a && Set(a).isDisjoint(with: b) && a.count + b.count == data.windows.count)
    }

    @Test("ClimateBench's NRMSEs: zero for a perfect projection; a uniform offset of 0.5 counts once in the map and five times in the global series")
    func scores() {
        let latitudes = [-45.0, 45.0], truths: [[Float]] = [[1, 2, 3, 4], [2, 3, 4, 5]]
        let perfect = ClimateBenchScores.score(truths, truths: truths, latitudes: latitudes, width: 2)
        #expect(perfect["nrmse"]! == 0 && perfect["w_rmse"]! == 0)
        let shifted = ClimateBenchScores.score(truths.map { $0.map { $0 + 0.5 } }, truths: truths, latitudes: latitudes, width: 2)
        // |⟨mean_t y⟩| = 3; the map error and the global error are both 0.5, so NRMSE = (0.5 + 5 · 0.5) / 3.
        #expect(abs(shifted["nrmse_s"]! - 0.5 / 3) < 1e-12 && abs(shifted["nrmse_g"]! - 0.5 / 3) < 1e-12 && abs(shifted["nrmse"]! - 1) < 1e-12)
    }
}
