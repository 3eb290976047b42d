import Foundation
import Testing
import TestSupport
@testable import ClimateForecasting
import TensorIO

/// Files written by h5py and netCDF4-python in each layout, read back by GridReader.
@Suite("Grid files: ClimaX, FourCastNet and netCDF-4 layouts")
struct GridReaderTests {
    /// Values every writer below uses: field(v, t, i, j) = 1000·v + 100·t + 10·i + j (+ 0.5).
    static func value(_ v: Int, _ t: Int, _ i: Int, _ j: Int) -> Float { Float(1000 * v + 100 * t + 10 * i + j) + 0.5 }
    /// Frames read one at a time from the open file equal the whole read's, constants included.
    static func expectStreamedEqualsWhole(_ path: String, _ variables: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let whole = try GridReader.read(path: path, variables: variables)
        let streamed = try GridShard.open(path: path, variables: variables, resident: false, recentBytes: 64)
        #expect(!streamed.isResident && streamed.frames == whole.frames && streamed.hours == whole.hours, sourceLocation: sourceLocation)
        for name in whole.variables {
            for t in (0..<whole.frames).reversed() {
                #expect(Array(try streamed.frame(name, t)) == Array(whole.frame(name, t)), "\(name) frame \(t)", sourceLocation: sourceLocation)
            }
        }
    }

    static let numpyField = "lambda v: (1000*v + 100*np.arange(3)[:,None,None] + 10*np.arange(4)[None,:,None] + np.arange(8)[None,None,:] + 0.5).astype('float32')"

    @Test("ClimaX layout from h5py: [T, 1, H, W] and [T, H, W] datasets, coordinates, stats and climatology; short names accepted")
    func climaXLayout() throws {
        let path = try Fixtures.scratchDirectory().appendingPathComponent("climax.h5").path
        _ = try Subprocess.python("""
            import sys, h5py, numpy as np
            field = \(Self.numpyField)
            with h5py.File(sys.argv[1], 'w') as f:
                f['lat'] = np.array([-67.5, -22.5, 22.5, 67.5]); f['lon'] = np.arange(8) * 45.0; f['time'] = np.arange(3) * 6.0
                f['geopotential_500'] = field(0)[:, None]
                f['2m_temperature'] = field(1)
                f['land_sea_mask'] = field(2)[:1, None]
                f['stats/mean/geopotential_500'] = np.array([54000.0]); f['stats/std/geopotential_500'] = np.array([3000.0])
                f['climatology/geopotential_500'] = field(0).mean(axis=0)[None]
            """, arguments: [path])
        let grid = try GridReader.read(path: path, variables: ["z_500", "t2m", "lsm"])
        #expect(grid.variables == ["geopotential_500", "2m_temperature", "land_sea_mask"])
        #expect(grid.frames == 3 && grid.height == 4 && grid.width == 8 && grid.hours == [0, 6, 12] && grid.hoursPerStep == 6)
        #expect(grid.frame("geopotential_500", 2)[grid.frame("geopotential_500", 2).startIndex + 13] == Self.value(0, 2, 1, 5))
        #expect(grid.frame("2m_temperature", 1).first == Self.value(1, 1, 0, 0))
        // A one-frame constant serves every time.
        #expect(grid.frame("land_sea_mask", 2).first == Self.value(2, 0, 0, 0))
        #expect(grid.mean["geopotential_500"] == 54000 && grid.std["geopotential_500"] == 3000)
        #expect(grid.climatology["geopotential_500"]?[9] == Self.value(0, 1, 1, 1))
        #expect(try GridReader.variableNames(path: path).sorted() == ["2m_temperature", "geopotential_500", "land_sea_mask"])
        try Self.expectStreamedEqualsWhole(path, ["z_500", "t2m", "lsm"])
    }

    @Test("our writer's files read back in h5py with upstream's names and shapes")
    func writerIsReadableByH5py() throws {
        let path = try Fixtures.scratchDirectory().appendingPathComponent("ours.h5").path
        var grid = ClimateGrid(variables: ["temperature_850"], fields: ["temperature_850": (0..<(2 * 4 * 8)).map { Float($0) }], frames: 2,
                               latitudes: [-67.5, -22.5, 22.5, 67.5], longitudes: (0..<8).map { Double($0) * 45 }, hours: [0, 1], source: "test")
        grid.mean = ["temperature_850": 270]
        grid.std = ["temperature_850": 10]
        grid.climatology = ["temperature_850": [Float](repeating: 1, count: 32)]
        try grid.write(to: path)
        let report = try Subprocess.python("""
            import sys, h5py
            f = h5py.File(sys.argv[1], 'r')
            print(f['temperature_850'].shape, float(f['temperature_850'][1, 0, 3, 7]), f['stats/mean/temperature_850'][0], f['climatology/temperature_850'].shape, f.attrs['layout'])
            """, arguments: [path])
        #expect(report.trimmingCharacters(in: .whitespacesAndNewlines) == "(2, 1, 4, 8) 63.0 270.0 (1, 4, 8) climax")
    }

    @Test("FourCastNet layout from h5py: fields [T, C, H, W] with a channel-name attribute")
    func fourCastNetLayout() throws {
        let path = try Fixtures.scratchDirectory().appendingPathComponent("fcn.h5").path
        _ = try Subprocess.python("""
            import sys, h5py, numpy as np
            field = \(Self.numpyField)
            with h5py.File(sys.argv[1], 'w') as f:
                d = f.create_dataset('fields', data=np.stack([field(0), field(1), field(2)], axis=1))
                d.attrs['channels'] = ['u10', 'v10', 'z500']
            """, arguments: [path])
        let grid = try GridReader.read(path: path, variables: ["v10"])
        #expect(grid.variables == ["10m_v_component_of_wind"] && grid.frames == 3 && grid.hours == [0, 6, 12])
        #expect(grid.frame("10m_v_component_of_wind", 2)[grid.frame("10m_v_component_of_wind", 2).startIndex + 31] == Self.value(1, 2, 3, 7))
        // No coordinates in the file: an even row count is read as cell centres from the south.
        #expect(grid.latitudes == [-67.5, -22.5, 22.5, 67.5])
        // z500 in FourCastNet's short spelling has no level suffix: it is looked up as written.
        #expect(try GridReader.variableNames(path: path) == ["10m_u_component_of_wind", "10m_v_component_of_wind", "z500"])
        try Self.expectStreamedEqualsWhole(path, ["v10", "z500"])
    }

    @Test("WeatherBench netCDF-4 from netCDF4-python: time/level/lat/lon dimensions, packed values, hours since an epoch")
    func netCDFLayout() throws {
        let path = try Fixtures.scratchDirectory().appendingPathComponent("geopotential_5.625deg.nc").path
        _ = try Subprocess.python("""
            import sys, numpy as np, netCDF4
            field = \(Self.numpyField)
            with netCDF4.Dataset(sys.argv[1], 'w') as d:
                d.createDimension('time', None); d.createDimension('level', 2); d.createDimension('lat', 4); d.createDimension('lon', 8)
                t = d.createVariable('time', 'i8', ('time',)); t.units = 'hours since 1979-01-01'; t[:] = np.array([350640, 350641, 350642])
                lev = d.createVariable('level', 'i4', ('level',)); lev[:] = [500, 850]
                d.createVariable('lat', 'f8', ('lat',))[:] = [-67.5, -22.5, 22.5, 67.5]
                d.createVariable('lon', 'f8', ('lon',))[:] = np.arange(8) * 45.0
                z = d.createVariable('z', 'f4', ('time', 'level', 'lat', 'lon')); z.long_name = 'Geopotential'; z.units = 'm**2 s**-2'
                z[:] = np.stack([field(0), field(1)], axis=1)
                t2m = d.createVariable('t2m', 'i2', ('time', 'lat', 'lon')); t2m.scale_factor = 0.5; t2m.add_offset = 100.0
                t2m[:] = field(2)
            """, arguments: [path])
        let grid = try GridReader.read(path: path, variables: ["geopotential_850", "z_500", "2m_temperature"])
        #expect(grid.variables == ["geopotential_850", "geopotential_500", "2m_temperature"])
        #expect(grid.hours == [350640, 350641, 350642] && grid.hoursPerStep == 1)
        #expect(grid.frame("geopotential_850", 1)[grid.frame("geopotential_850", 1).startIndex + 10] == Self.value(1, 1, 1, 2))
        #expect(grid.frame("geopotential_500", 0).first == Self.value(0, 0, 0, 0))
        // netCDF4-python packed t2m as int16 with scale 0.5 and offset 100: unpacked to within half a step.
        #expect(abs(grid.frame("2m_temperature", 2)[grid.frame("2m_temperature", 2).startIndex + 31] - Self.value(2, 2, 3, 7)) <= 0.25)
        #expect(try GridReader.variableNames(path: path) == ["2m_temperature", "geopotential_500", "geopotential_850"])
        try Self.expectStreamedEqualsWhole(path, ["geopotential_850", "z_500", "2m_temperature"])
    }

    @Test("a missing variable, a mismatched shape and a NaN fail naming the file, the variable and the index")
    func badFiles() throws {
        let directory = try Fixtures.scratchDirectory()
        let path = directory.appendingPathComponent("bad.h5").path
        _ = try Subprocess.python("""
            import sys, h5py, numpy as np
            field = \(Self.numpyField)
            with h5py.File(sys.argv[1], 'w') as f:
                f['lat'] = np.array([-67.5, -22.5, 22.5, 67.5]); f['lon'] = np.arange(8) * 45.0
                f['geopotential_500'] = field(0)[:, None]
                f['temperature_850'] = field(1)[:, None, :3]
                bad = field(2); bad[2, 1, 5] = np.nan
                f['2m_temperature'] = bad[:, None]
                f.attrs['layout'] = 'climax'
            """, arguments: [path])
        func message(_ variables: [String]) -> String {
            do { _ = try GridReader.read(path: path, variables: variables); return "no error" } catch { return "\(error)" }
        }
        let missing = message(["geopotential_500", "specific_humidity_850"])
        #expect(missing.contains(path) && missing.contains("'specific_humidity_850'") && missing.contains("not found"))
        let shape = message(["temperature_850"])
        #expect(shape.contains(path) && shape.contains("'temperature_850'") && shape.contains("[3, 1, 3, 8]") && shape.contains("[T, 1, 4, 8]"))
        let nan = message(["2m_temperature"])
        #expect(nan.contains(path) && nan.contains("'2m_temperature'") && nan.contains("nan at index [time 2, lat 1, lon 5]"))
        #expect(message(["geopotential_500"]) == "no error")
        // Streamed, the NaN is found when its frame is read, with the same words.
        let streamed = try GridShard.open(path: path, variables: ["2m_temperature"], resident: false)
        #expect(throws: Never.self) { _ = try streamed.frame("2m_temperature", 1) }
        var late = "no error"
        do { _ = try streamed.frame("2m_temperature", 2) } catch { late = "\(error)" }
        #expect(late.contains(path) && late.contains("nan at index [time 2, lat 1, lon 5]"), "\(late)")
    }
}
