import Foundation
import Testing
import TestSupport
@testable import ClimateForecasting

@Suite("climate-convert: ClimaX .npz shards and WeatherBench netCDF-4 trees to the ClimaX HDF5 layout")
struct ConvertTests {
    @Test("ClimaX npz save_dir (written by NumPy) converts shard for shard, with statistics and climatology")
    func fromNpz() throws {
        let directory = try Fixtures.scratchDirectory()
        let source = directory.appendingPathComponent("npz").path, output = directory.appendingPathComponent("h5").path
        _ = try Subprocess.python("""
            import sys, os, numpy as np
            root = sys.argv[1]
            for split in ['train', 'val', 'test']: os.makedirs(os.path.join(root, split))
            np.save(os.path.join(root, 'lat.npy'), np.array([-67.5, -22.5, 22.5, 67.5]))
            np.save(os.path.join(root, 'lon.npy'), np.arange(8) * 45.0)
            def shard(seed): 
                r = np.random.default_rng(seed)
                return {'geopotential_500': (54000 + 100 * r.normal(size=(5, 1, 4, 8))).astype('float32'),
                        '2m_temperature': (280 + r.normal(size=(5, 1, 4, 8))).astype('float32')}
            for split, name, seed in [('train', '2015_0', 1), ('train', '2015_1', 2), ('val', '2016_0', 3), ('test', '2017_0', 4)]:
                np.savez(os.path.join(root, split, name + '.npz'), **shard(seed))
                np.savez(os.path.join(root, split, 'climatology.npz'), **{k: v.mean(axis=0) for k, v in shard(seed).items()})
            np.savez(os.path.join(root, 'normalize_mean.npz'), geopotential_500=np.array([54000.0]), **{'2m_temperature': np.array([280.0])})
            np.savez(os.path.join(root, 'normalize_std.npz'), geopotential_500=np.array([100.0]), **{'2m_temperature': np.array([1.0])})
            """, arguments: [source])
        let files = try ClimateConvert.fromNpz(root: source, output: output)
        #expect(files.map { URL(fileURLWithPath: $0).lastPathComponent } == ["2015_0.h5", "2015_1.h5", "2016_0.h5", "2017_0.h5"])
        let grid = try GridReader.read(path: output + "/train/2015_1.h5")
        #expect(Set(grid.variables) == ["geopotential_500", "2m_temperature"] && grid.frames == 5)
        let expectedHours: [Double] = (0..<5).map { Double(2015 * 8760 + 5 + $0) }
        #expect(grid.hours == expectedHours)
        #expect(grid.mean["geopotential_500"] == 54000 && grid.std["2m_temperature"] == 1 && grid.climatology["2m_temperature"]?.count == 32)
        let check = try Subprocess.python("""
            import sys, numpy as np
            a = np.load(sys.argv[1] + '/train/2015_1.npz')['geopotential_500']
            print(float(a[3, 0, 2, 5]))
            """, arguments: [source])
        let frame = grid.frame("geopotential_500", 3)
        #expect(abs(Double(frame[frame.startIndex + 21]) - Double(check.trimmingCharacters(in: .whitespacesAndNewlines))!) < 1e-3)
        // The converted tree feeds the data pipeline as it is.
        let data = try ForecastDataset(directory: output + "/train", variables: ["z_500", "t2m"], outVariables: ["t2m"], leadHours: 2)
        #expect(data.pairs.count == 2 * 3)
    }

    @Test("a WeatherBench netCDF-4 tree (written by netCDF4-python) splits by year into shards; statistics pool the training years")
    func fromNetCDF() throws {
        let directory = try Fixtures.scratchDirectory()
        let source = directory.appendingPathComponent("wb").path, output = directory.appendingPathComponent("h5").path
        _ = try Subprocess.python("""
            import sys, os, numpy as np, netCDF4
            root = sys.argv[1]
            lat = [-67.5, -22.5, 22.5, 67.5]; lon = np.arange(8) * 45.0
            def grid(d, hours):
                d.createDimension('lat', 4); d.createDimension('lon', 8)
                d.createVariable('lat', 'f8', ('lat',))[:] = lat; d.createVariable('lon', 'f8', ('lon',))[:] = lon
                if hours:
                    d.createDimension('time', None)
                    t = d.createVariable('time', 'i8', ('time',)); t.units = 'hours since 1979-01-01'; t[:] = np.arange(hours)
            for year in range(2015, 2019):
                r = np.random.default_rng(year)
                os.makedirs(os.path.join(root, '2m_temperature'), exist_ok=True); os.makedirs(os.path.join(root, 'geopotential'), exist_ok=True)
                with netCDF4.Dataset(os.path.join(root, '2m_temperature', f'2m_temperature_{year}_5.625deg.nc'), 'w') as d:
                    grid(d, 30); d.createVariable('t2m', 'f4', ('time', 'lat', 'lon'))[:] = 270 + year - 2015 + r.normal(size=(30, 4, 8))
                with netCDF4.Dataset(os.path.join(root, 'geopotential', f'geopotential_{year}_5.625deg.nc'), 'w') as d:
                    grid(d, 30); d.createDimension('level', 3); d.createVariable('level', 'i4', ('level',))[:] = [500, 700, 850]
                    d.createVariable('z', 'f4', ('time', 'level', 'lat', 'lon'))[:] = 50000 + 10 * r.normal(size=(30, 3, 4, 8))
            with netCDF4.Dataset(os.path.join(root, 'constants.nc'), 'w') as d:
                grid(d, 0); d.createVariable('lsm', 'f4', ('lat', 'lon'))[:] = (np.arange(32).reshape(4, 8) % 3 == 0)
                d.createVariable('lat2d', 'f4', ('lat', 'lon'))[:] = np.repeat(np.array(lat)[:, None], 8, axis=1)
            # Upstream's pooled training statistics over 2015-2016, first 24 hours of each year.
            def first(year):
                with netCDF4.Dataset(os.path.join(root, '2m_temperature', f'2m_temperature_{year}_5.625deg.nc')) as d: return np.array(d['t2m'][:24])
            means = [first(y).mean() for y in (2015, 2016)]; variances = [first(y).var() for y in (2015, 2016)]
            print(np.mean(means), np.sqrt(np.mean(variances) + np.mean(np.square(means)) - np.mean(means) ** 2))
            """, arguments: [source])
        var years = ClimateConvert.Years()
        (years.startTrain, years.startValidation, years.startTest, years.end, years.shards, years.hoursPerYear) = (2015, 2017, 2018, 2019, 2, 24)
        let files = try ClimateConvert.fromNetCDF(root: source, output: output, variables: ["2m_temperature", "geopotential"], levels: [500, 850], years: years)
        #expect(files.count == 8 && files.contains(output + "/val/2017_1.h5") && files.contains(output + "/test/2018_0.h5"))
        let grid = try GridReader.read(path: output + "/train/2016_1.h5")
        #expect(Set(grid.variables) == ["2m_temperature", "geopotential_500", "geopotential_850", "land_sea_mask", "lattitude"])
        #expect(grid.frames == 12 && grid.hours.first == Double(2016 * 8760 + 12))
        let expected = try Subprocess.python("""
            import sys, os, numpy as np, netCDF4
            root = sys.argv[1]
            means, variances = [], []
            for year in (2015, 2016):
                with netCDF4.Dataset(os.path.join(root, '2m_temperature', f'2m_temperature_{year}_5.625deg.nc')) as d:
                    a = np.array(d['t2m'][:24], dtype=np.float64); means.append(a.mean()); variances.append(a.var())
            print(np.mean(means), np.sqrt(np.mean(variances) + np.mean(np.square(means)) - np.mean(means) ** 2))
            """, arguments: [source]).split(separator: " ").map { Double($0.trimmingCharacters(in: .whitespacesAndNewlines))! }
        #expect(abs(grid.mean["2m_temperature"]! - expected[0]) < 1e-4 && abs(grid.std["2m_temperature"]! - expected[1]) < 1e-4)
        // Constants are repeated per shard as one frame; the level outside `levels` (700) is left out.
        #expect(grid.fields["land_sea_mask"]!.count == 32 && grid.fields["geopotential_850"]!.count == 12 * 32)
        let validation = try GridReader.read(path: output + "/val/2017_0.h5", variables: ["t2m"])
        let climatology = validation.climatology["2m_temperature"]!
        #expect(abs(Double(climatology.reduce(0, +)) / 32 - 272) < 0.5)
    }
}
