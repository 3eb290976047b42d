import Foundation
import Testing
import TestSupport
@testable import TensorIO

@Suite("HDF5 round trips")
struct HDF5RoundTripTests {
    let directory: URL
    init() throws { directory = try Fixtures.scratchDirectory("hdf5") }
    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    @Test("every element type at ranks 0, 1 and 3")
    func everyElementType() throws {
        let file = try HDF5File(path: path("types.h5"), mode: .truncate)
        let root = try file.root
        try root.write("f32", [Float(1.5), -2.25, .pi, 0, .infinity, -.greatestFiniteMagnitude], shape: [2, 1, 3])
        try root.write("f64", [Double.pi, -1e300, 1e-300, 0], shape: [4])
        try root.write("i8", [Int8.min, -1, 0, Int8.max], shape: [2, 2])
        try root.write("i16", [Int16.min, 0, Int16.max], shape: [3])
        try root.write("i32", [Int32.min, 7, Int32.max], shape: [1, 3, 1])
        try root.write("i64", [Int64.min, 42, Int64.max], shape: [3])
        try root.write("u8", [UInt8(0), 128, 255], shape: [3])
        try root.write("b", [true, false, false, true], shape: [2, 2])
        try root.write("scalar", [Double(6.02214076e23)], shape: [])
        try file.close()

        let reopened = try HDF5File(path: path("types.h5"))
        let group = try reopened.root
        #expect(try group.dataset("f32").read(as: Float.self) == [1.5, -2.25, .pi, 0, .infinity, -.greatestFiniteMagnitude])
        #expect(try group.dataset("f32").shape == [2, 1, 3])
        #expect(try group.dataset("f64").read(as: Double.self) == [Double.pi, -1e300, 1e-300, 0])
        #expect(try group.dataset("i8").read(as: Int8.self) == [Int8.min, -1, 0, Int8.max])
        #expect(try group.dataset("i16").read(as: Int16.self) == [Int16.min, 0, Int16.max])
        #expect(try group.dataset("i32").read(as: Int32.self) == [Int32.min, 7, Int32.max])
        #expect(try group.dataset("i64").read(as: Int64.self) == [Int64.min, 42, Int64.max])
        #expect(try group.dataset("u8").read(as: UInt8.self) == [0, 128, 255])
        #expect(try group.dataset("b").read(as: Bool.self) == [true, false, false, true])
        #expect(try group.dataset("b").dtype == .bool)
        #expect(try group.dataset("scalar").shape == [])
        #expect(try group.dataset("scalar").readScalar(as: Double.self) == 6.02214076e23)
        // HDF5 converts between numeric types on read.
        #expect(try group.dataset("i32").read(as: Int64.self) == [Int64(Int32.min), 7, Int64(Int32.max)])
        #expect(try group.dataset("u8").read(as: Double.self) == [0, 128, 255])
        let expectedTypes: [String: HDF5DataType] = [
            "f32": .float32, "f64": .float64, "i8": .int8, "i16": .int16, "i32": .int32, "i64": .int64, "u8": .uint8,
        ]
        for (name, type) in expectedTypes { #expect(try group.dataset(name).dtype == type, "\(name)") }
    }

    @Test("chunked datasets with shuffle and gzip report their layout")
    func chunkedAndCompressed() throws {
        let file = try HDF5File(path: path("chunks.h5"), mode: .truncate)
        let values = (0..<(100 * 30)).map { Int64($0 % 17) }
        let dataset = try file.root.write("ids", values, shape: [100, 30], options: .compressed(level: 6, chunks: [16, 30]))
        #expect(try dataset.chunks == [16, 30])
        #expect(try dataset.filters == [.shuffle, .gzip(level: 6)])
        #expect(try dataset.read(as: Int64.self) == values)
        let automatic = try file.root.write("auto", [Float](repeating: 1, count: 200_000), shape: [1000, 200],
                                            options: .compressed(level: 4, shuffle: false))
        let chunks = try #require(try automatic.chunks)
        #expect(chunks.reduce(4, *) <= 256 * 1024)
        #expect(chunks[1] == 200)
        #expect(try automatic.filters == [.gzip(level: 4)])
        #expect(try file.root.write("plain", [Float(1)]).chunks == nil)
    }

    @Test("hyperslab reads and writes of sub-blocks")
    func hyperslabs() throws {
        let file = try HDF5File(path: path("slabs.h5"), mode: .truncate)
        let shape = [4, 5, 6]
        let dataset = try file.root.createDataset("grid", dtype: .float64, shape: shape, options: .compressed(chunks: [2, 5, 3]))
        // Write in 2×5×6 blocks, then read an arbitrary interior block back.
        for start in stride(from: 0, to: 4, by: 2) {
            let block = (0..<(2 * 5 * 6)).map { Double(start * 30 + $0) }
            try dataset.write(block, offset: [start, 0, 0], count: [2, 5, 6])
        }
        let block: [Double] = try dataset.read(offset: [1, 2, 3], count: [2, 2, 3])
        var expected: [Double] = []
        for i in 1..<3 { for j in 2..<4 { for k in 3..<6 { expected.append(Double(i * 30 + j * 6 + k)) } } }
        #expect(block == expected)
        #expect(try dataset.read(as: Double.self) == (0..<120).map(Double.init))

        #expect(throws: HDF5Error.self) { try dataset.read(as: Double.self, offset: [3, 0, 0], count: [2, 5, 6]) }
        #expect(throws: HDF5Error.self) { try dataset.write([1.0], offset: [0, 0, 0], count: [1, 1, 2]) }
        do {
            _ = try dataset.read(as: Double.self, offset: [0, 0], count: [1, 1])
            Issue.record("a block of the wrong rank must throw")
        } catch {
            #expect(error.kind == .shapeMismatch)
            #expect(error.description.contains("/grid"))
            #expect(error.description.contains("slabs.h5"))
        }
    }

    @Test("variable-length UTF-8 strings, whole and in blocks")
    func strings() throws {
        let file = try HDF5File(path: path("strings.h5"), mode: .truncate)
        let values = ["ATGAAACGC", "", "héllo wörld ✓", "TAA", String(repeating: "ACGT", count: 1000)]
        let dataset = try file.root.writeStrings("meta/sequence", values, options: .compressed(chunks: [2]))
        #expect(try dataset.dtype == .variableString(utf8: true))
        #expect(try dataset.readStrings() == values)
        #expect(try dataset.readStrings(offset: [2], count: [2]) == Array(values[2..<4]))
        #expect(throws: HDF5Error.self) { try dataset.read(as: Float.self) }
        try dataset.writeStrings(["x"], offset: [1], count: [1])
        #expect(try dataset.readStrings()[1] == "x")
    }

    @Test("attributes on the file, a group and a dataset")
    func attributes() throws {
        let file = try HDF5File(path: path("attrs.h5"), mode: .truncate)
        try file.setAttribute("title", .string("SciZoo ✓"))
        let group = try file.root.createGroup("a/b/c")
        try group.setAttribute("step", .int(1234))
        try group.setAttribute("lr", .double(3e-4))
        let dataset = try group.write("w", [Float(1), 2])
        try dataset.setAttribute("ints", .ints([1, -2, 3]))
        try dataset.setAttribute("floats", .floats([0.5, 0.25]))
        try dataset.setAttribute("doubles", .doubles([1e-9, 2]))
        try dataset.setAttribute("names", .strings(["z_500", "t2m"]))
        try dataset.setAttribute("step", .int(1))
        try dataset.setAttribute("step", .int(2))  // replacing is allowed
        try file.close()

        let reopened = try HDF5File(path: path("attrs.h5"))
        #expect(try reopened.attribute("title") == .string("SciZoo ✓"))
        let c = try reopened.root.group("a/b/c")
        #expect(c.path == "/a/b/c")
        #expect(try c.attribute("step") == .int(1234))
        #expect(try c.attribute("lr") == .double(3e-4))
        let w = try c.dataset("w")
        #expect(try w.attributeNames() == ["ints", "floats", "doubles", "names", "step"])
        #expect(try w.attribute("ints") == .ints([1, -2, 3]))
        #expect(try w.attribute("floats") == .floats([0.5, 0.25]))
        #expect(try w.attribute("doubles") == .doubles([1e-9, 2]))
        #expect(try w.attribute("names") == .strings(["z_500", "t2m"]))
        #expect(try w.attribute("step") == .int(2))
        #expect(throws: HDF5Error.self) { try w.attribute("missing") }
    }

    @Test("extendible datasets grow by rows, numbers and strings")
    func extendible() throws {
        let file = try HDF5File(path: path("grow.h5"), mode: .truncate)
        let ids = try file.root.createDataset("input_ids", dtype: .int64, shape: [0, 4], options: .extendible())
        let names = try file.root.createDataset("id", dtype: .variableString(utf8: true), shape: [0], options: .extendible())
        for batch in 0..<5 {
            let rows = batch + 1
            try ids.append(rows: (0..<(rows * 4)).map { Int64(batch * 100 + $0) })
            try names.append(strings: (0..<rows).map { "seq-\(batch)-\($0)" })
        }
        #expect(try ids.shape == [15, 4])
        #expect(try ids.maxShape == [nil, 4])
        #expect(try names.shape == [15])
        #expect(try names.readStrings().last == "seq-4-4")
        let lastRows: [Int64] = try ids.read(offset: [10, 0], count: [5, 4])
        #expect(lastRows == (0..<20).map { Int64(400 + $0) })
        #expect(throws: HDF5Error.self) { try ids.append(rows: [Int64(1), 2, 3]) }  // not whole rows
        let fixed = try file.root.write("fixed", [Int64(1), 2])
        #expect(throws: HDF5Error.self) { try fixed.append(rows: [Int64(3)]) }
    }

    @Test("groups, nested paths and member listing")
    func groupsAndMembers() throws {
        let file = try HDF5File(path: path("tree.h5"), mode: .truncate)
        let root = try file.root
        try root.createGroup("model/layers.0")
        try root.write("model/layers.0/weight", [Float](repeating: 0, count: 6), shape: [2, 3])
        try root.write("model/layers.0/bias", [Float](repeating: 0, count: 2))
        try root.write("step", [Int64(7)], shape: [])
        #expect(try root.memberNames() == ["model", "step"])
        #expect(try root.group("model/layers.0").memberNames() == ["bias", "weight"])
        #expect(try root.kind(of: "model") == .group)
        #expect(try root.kind(of: "step") == .dataset)
        #expect(root.contains("model/layers.0/weight"))
        #expect(!root.contains("model/layers.1/weight"))
        let entries = try file.tree()
        #expect(entries.map(\.path) == ["/", "/model", "/model/layers.0", "/model/layers.0/bias",
                                        "/model/layers.0/weight", "/step"])
        try root.remove("step")
        #expect(!root.contains("step"))
    }
}

@Suite("HDF5 errors")
struct HDF5ErrorTests {
    let directory: URL
    init() throws { directory = try Fixtures.scratchDirectory("hdf5errors") }
    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    @Test("a missing file, a text file and a truncated file each give one clear error")
    func badFiles() throws {
        do {
            _ = try HDF5File(path: path("missing.h5"))
            Issue.record("expected an error")
        } catch {
            #expect(error.kind == .fileNotFound)
            #expect(error.description.contains("missing.h5"))
        }
        try "not hdf5\n".write(toFile: path("text.h5"), atomically: true, encoding: .utf8)
        do {
            _ = try HDF5File(path: path("text.h5"))
            Issue.record("expected an error")
        } catch {
            #expect(error.kind == .notHDF5)
        }
        let good = try HDF5File(path: path("good.h5"), mode: .truncate)
        try good.root.write("x", [Double](repeating: 1, count: 10_000))
        try good.close()
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path("good.h5")))
        try bytes.prefix(2048).write(to: URL(fileURLWithPath: path("truncated.h5")))
        do {
            _ = try HDF5File(path: path("truncated.h5"))
            Issue.record("expected an error")
        } catch {
            // HDF5's own explanation travels with the error.
            #expect(error.kind == .libraryCall)
            #expect(error.description.contains("truncated"))
            #expect(error.description.contains("truncated.h5"))
        }
    }

    @Test("errors inside a file name the file and the object")
    func objectErrors() throws {
        let file = try HDF5File(path: path("objects.h5"), mode: .truncate)
        try file.root.write("data/x", [Int32(1), 2, 3])
        do {
            _ = try file.root.dataset("data/y")
            Issue.record("expected an error")
        } catch {
            #expect(error.kind == .objectNotFound)
            #expect(error.object == "/data/y")
            #expect(error.file.hasSuffix("objects.h5"))
        }
        do {
            _ = try file.root.createDataset("data/x", dtype: .float32, shape: [2])
            Issue.record("creating an existing name must fail")
        } catch {
            #expect(error.kind == .libraryCall)
            #expect(!error.messages.isEmpty, "HDF5's own message is carried")
            #expect(error.object == "/data/x")
        }
        #expect(throws: HDF5Error.self) { try file.root.dataset("data/x").readStrings() }
        #expect(throws: HDF5Error.self) { try file.root.dataset("data/x").write([Float(1)]) }
        #expect(throws: HDF5Error.self) {
            try file.root.createDataset("bad", dtype: .float32, shape: [4], options: .compressed(level: 12))
        }
        try file.close()
        let readOnly = try HDF5File(path: path("objects.h5"))
        #expect(throws: HDF5Error.self) { try readOnly.root.write("z", [Float(1)]) }
    }

    @Test("an atomic write that fails leaves the old file and no temporary behind")
    func atomicWrite() throws {
        let target = path("checkpoint.h5")
        try HDF5File.writeAtomically(to: target) { file in try file.root.write("step", [Int64(1)], shape: []) }
        struct Interrupted: Error {}
        #expect(throws: Interrupted.self) {
            try HDF5File.writeAtomically(to: target) { file in
                try file.root.write("step", [Int64(2)], shape: [])
                throw Interrupted()
            }
        }
        let step = try HDF5File(path: target).root.dataset("step").readScalar(as: Int64.self)
        #expect(step == 1)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.contains(".tmp-") }
        #expect(leftovers.isEmpty)
    }
}
