// Interop both ways with h5py, the HDF5 client most users have. Scripts/setup installs h5py;
// these tests fail (they do not skip) when it is missing, because CI must run them.
import Foundation
import Testing
import TestSupport
@testable import TensorIO

@Suite("h5py interop")
struct H5pyInteropTests {
    let directory: URL
    init() throws { directory = try Fixtures.scratchDirectory("h5py") }

    @Test("SciZoo reads what h5py wrote")
    func readH5pyFile() throws {
        let path = directory.appendingPathComponent("from_h5py.h5").path
        _ = try Subprocess.python("""
            import sys, h5py, numpy as np
            with h5py.File(sys.argv[1], "w") as f:
                f.attrs["title"] = "written by h5py"
                f.attrs["version"] = 3
                f.attrs["scale"] = 0.5
                f.attrs["levels"] = np.array([50, 250, 500, 850], dtype=np.int64)
                f.attrs["weights"] = np.array([0.25, 0.75], dtype=np.float32)
                f.attrs["fixed"] = np.bytes_(b"ascii-fixed")
                ids = np.arange(12 * 8, dtype=np.int64).reshape(12, 8) % 69
                d = f.create_dataset("input_ids", data=ids, chunks=(4, 8), compression="gzip", compression_opts=6)
                d.attrs["vocab"] = "codon_wordlevel_69vocab"
                f.create_dataset("attention_mask", data=(ids % 3 != 0).astype(np.int64), compression="gzip")
                g = f.create_group("fields/era5")
                g.create_dataset("t2m", data=np.linspace(-1, 1, 2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4),
                                 chunks=(1, 3, 4), shuffle=True, compression="gzip", compression_opts=4)
                g.create_dataset("mask", data=np.array([True, False, True]))
                f.create_dataset("sequence", data=["ATGAAA", "", "héllo ✓"], dtype=h5py.string_dtype())
                f.create_dataset("step", data=np.int64(41))
                f.create_dataset("codes", data=np.array([b"AB", b"CDE"]))
                grow = f.create_dataset("grow", shape=(0, 2), maxshape=(None, 2), dtype=np.float64, chunks=(16, 2))
                grow.resize((3, 2)); grow[:] = np.arange(6).reshape(3, 2)
            """, arguments: [path])

        let file = try HDF5File(path: path)
        #expect(try file.attribute("title") == .string("written by h5py"))
        #expect(try file.attribute("version") == .int(3))
        #expect(try file.attribute("scale") == .double(0.5))
        #expect(try file.attribute("levels") == .ints([50, 250, 500, 850]))
        #expect(try file.attribute("weights") == .floats([0.25, 0.75]))
        #expect(try file.attribute("fixed") == .string("ascii-fixed"))

        let ids = try file.root.dataset("input_ids")
        #expect(try ids.dtype == .int64)
        #expect(try ids.shape == [12, 8])
        #expect(try ids.chunks == [4, 8])
        #expect(try ids.filters == [.gzip(level: 6)])
        let expectedIDs = (0..<96).map { Int64($0 % 69) }
        #expect(try ids.read(as: Int64.self) == expectedIDs)
        #expect(try ids.read(as: Int64.self, offset: [5, 2], count: [2, 3]) == [42, 43, 44, 50, 51, 52])
        #expect(try ids.attribute("vocab") == .string("codon_wordlevel_69vocab"))
        #expect(try file.root.dataset("attention_mask").read(as: Int64.self) == expectedIDs.map { $0 % 3 != 0 ? 1 : 0 })

        let t2m = try file.root.dataset("fields/era5/t2m")
        #expect(try t2m.dtype == .float32)
        #expect(try t2m.filters == [.shuffle, .gzip(level: 4)])
        let values: [Float] = try t2m.read()
        #expect(values.count == 24)
        #expect(values.first == -1 && values.last == 1)
        #expect(try file.root.dataset("fields/era5/mask").dtype == .bool)
        #expect(try file.root.dataset("fields/era5/mask").read(as: Bool.self) == [true, false, true])
        #expect(try file.root.dataset("sequence").readStrings() == ["ATGAAA", "", "héllo ✓"])
        #expect(try file.root.dataset("step").readScalar(as: Int64.self) == 41)
        #expect(try file.root.dataset("codes").dtype == .fixedString(size: 3, utf8: false))
        #expect(try file.root.dataset("codes").readStrings() == ["AB", "CDE"])
        let grow = try file.root.dataset("grow")
        #expect(try grow.maxShape == [nil, 2])
        #expect(try grow.read(as: Double.self) == [0, 1, 2, 3, 4, 5])

        // The whole tree, as `scizoo inspect` lists it.
        let paths = try file.tree().map(\.path)
        #expect(paths == ["/", "/attention_mask", "/codes", "/fields", "/fields/era5", "/fields/era5/mask", "/fields/era5/t2m",
                          "/grow", "/input_ids", "/sequence", "/step"])
    }

    @Test("h5py reads what SciZoo wrote, with the same names, dtypes and values")
    func h5pyReadsOurFile() throws {
        let path = directory.appendingPathComponent("from_scizoo.h5").path
        try HDF5File.writeAtomically(to: path) { file in
            let root = try file.root
            try file.setAttribute("title", .string("written by SciZoo ✓"))
            try file.setAttribute("seed", .int(42))
            try file.setAttribute("lr", .double(1.5e-4))
            try file.setAttribute("levels", .ints([50, 500]))
            try file.setAttribute("names", .strings(["z_500", "t2m"]))
            try root.write("input_ids", (0..<40).map { Int64($0) }, shape: [5, 8], options: .compressed(level: 6, chunks: [2, 8]))
            try root.write("values", (0..<6).map { Float($0) / 4 }, shape: [2, 3], options: .compressed(level: 1, shuffle: true))
            try root.write("model/w", [Double](arrayLiteral: 1, -2, 3.5), shape: [3])
            try root.write("small", [Int8(-3), 4, Int8.max], shape: [3])
            try root.write("bytes", [UInt8(0), 255], shape: [2])
            try root.write("flags", [true, false, true], shape: [3])
            try root.writeStrings("description", ["lambda phage", "gène ✓"])
            let grow = try root.createDataset("rows", dtype: .int32, shape: [0, 2], options: .extendible(gzipLevel: nil))
            try grow.append(rows: [Int32(1), 2, 3, 4])
        }
        let json = try Subprocess.python("""
            import sys, json, h5py, numpy as np
            out = {"attrs": {}, "datasets": {}}
            with h5py.File(sys.argv[1], "r") as f:
                for k, v in f.attrs.items():
                    out["attrs"][k] = v.tolist() if hasattr(v, "tolist") else v
                def visit(name, obj):
                    if isinstance(obj, h5py.Dataset):
                        data = obj[()]
                        if h5py.check_string_dtype(obj.dtype):
                            data = obj.asstr()[()].tolist()
                        else:
                            data = data.tolist()
                        out["datasets"][name] = {"dtype": str(obj.dtype), "shape": list(obj.shape),
                            "chunks": list(obj.chunks) if obj.chunks else None,
                            "compression": obj.compression, "level": obj.compression_opts,
                            "shuffle": obj.shuffle, "maxshape": [m for m in obj.maxshape], "data": data}
                f.visititems(visit)
            print(json.dumps(out))
            """, arguments: [path])
        let report = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
        let attrs = report["attrs"] as! [String: Any]
        #expect(attrs["title"] as? String == "written by SciZoo ✓")
        #expect(attrs["seed"] as? Int == 42)
        #expect(attrs["lr"] as? Double == 1.5e-4)
        #expect(attrs["levels"] as? [Int] == [50, 500])
        #expect(attrs["names"] as? [String] == ["z_500", "t2m"])

        let datasets = report["datasets"] as! [String: [String: Any]]
        let ids = try #require(datasets["input_ids"])
        #expect(ids["dtype"] as? String == "int64")
        #expect(ids["shape"] as? [Int] == [5, 8])
        #expect(ids["chunks"] as? [Int] == [2, 8])
        #expect(ids["compression"] as? String == "gzip")
        #expect(ids["level"] as? Int == 6)
        #expect((ids["data"] as? [[Int]])?.flatMap { $0 } == Array(0..<40))
        let values = try #require(datasets["values"])
        #expect(values["dtype"] as? String == "float32")
        #expect(values["shuffle"] as? Bool == true)
        #expect((values["data"] as? [[Double]])?.flatMap { $0 } == [0, 0.25, 0.5, 0.75, 1, 1.25])
        #expect(datasets["model/w"]?["dtype"] as? String == "float64")
        #expect(datasets["model/w"]?["data"] as? [Double] == [1, -2, 3.5])
        #expect(datasets["small"]?["dtype"] as? String == "int8")
        #expect(datasets["small"]?["data"] as? [Int] == [-3, 4, 127])
        #expect(datasets["bytes"]?["dtype"] as? String == "uint8")
        #expect(datasets["flags"]?["dtype"] as? String == "bool")
        #expect(datasets["flags"]?["data"] as? [Bool] == [true, false, true])
        #expect(datasets["description"]?["data"] as? [String] == ["lambda phage", "gène ✓"])
        let rows = try #require(datasets["rows"])
        #expect(rows["dtype"] as? String == "int32")
        #expect(rows["shape"] as? [Int] == [2, 2])
        #expect((rows["maxshape"] as? [Any])?.first is NSNull)
    }
}
