import Foundation
import Testing
import TestSupport
import TensorCore
@testable import TensorIO

/// Damage the fuzzer found HDF5 1.10.8 crashing or hanging on, rebuilt byte by byte: each must be
/// one error naming the file (`scizoo fuzz` covers the rest at random).
@Suite("Damaged files")
struct DamagedFileTests {
    let directory: URL
    init() throws { directory = try Fixtures.scratchDirectory("damaged") }
    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// A file's bytes with `edit` applied at the first occurrence of `pattern`.
    func damaged(_ source: String, _ name: String, at pattern: [UInt8], offset: Int = 0, _ edit: (inout [UInt8], Int) -> Void) throws -> String {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: source)))
        let at = try #require(bytes.indices.first { bytes[$0...].starts(with: pattern) })
        edit(&bytes, at + offset)
        let target = path(name)
        try Data(bytes).write(to: URL(fileURLWithPath: target))
        return target
    }

    @Test("a flipped bit in a checkpoint's values fails the resume with HDF5's checksum, naming the file")
    func checksummedCheckpoint() throws {
        let values = [Float](repeating: 1.2345, count: 1000)
        let checkpoint = Checkpoint(parameters: [("w", Tensor(values, shape: [10, 100]))], step: 3)
        try checkpoint.write(to: path("good.h5"))
        #expect(try Checkpoint.read(from: path("good.h5")).parameters[0].1.scalars(as: Float.self) == values)
        let pattern = withUnsafeBytes(of: Float(1.2345)) { Array($0) }
        let bad = try damaged(path("good.h5"), "flipped.h5", at: pattern + pattern, offset: 401) { bytes, at in bytes[at] ^= 0x10 }
        #expect {
            _ = try Checkpoint.read(from: bad)
        } throws: { error in
            let text = String(describing: error)
            return text.contains("flipped.h5") && text.lowercased().contains("checksum") && !text.contains("\n")
        }
    }

    @Test("a global-heap object of size 0 (HDF5 1.10 loops forever) and a reference to a missing object (it segfaults) are errors")
    func damagedGlobalHeap() throws {
        let file = try HDF5File(path: path("strings.h5"), mode: .truncate)
        try file.setAttribute("config", .string("{\"seed\": 5}"))
        try file.close()
        // The collection's first object: index 1, then its size; a free-space object (index 0) of size 0 hangs.
        let collection: [UInt8] = Array("GCOL".utf8) + [1, 0, 0, 0]
        let looping = try damaged(path("strings.h5"), "looping.h5", at: collection, offset: 16) { bytes, at in
            for k in 0..<16 { bytes[at + k] = 0 }
        }
        expectError(naming: "looping.h5", "global heap collection") { _ = try HDF5File(path: looping).attribute("config") }
        // The attribute's reference: length 11, the collection's address, object 1 → object 2.
        let reference = try damaged(path("strings.h5"), "reference.h5", at: [11, 0, 0, 0]) { bytes, at in bytes[at + 12] = 2 }
        expectError(naming: "reference.h5", "does not exist") { _ = try HDF5File(path: reference).attribute("config") }
    }

    @Test("a root-group continuation block outside the file (HDF5 1.10 segfaults inside H5Fopen) is an error before HDF5 opens it")
    func damagedRootHeader() throws {
        let file = try HDF5File(path: path("root.h5"), mode: .truncate)
        // Enough attributes on the root group that its header continues in a second block.
        for k in 0..<12 { try file.setAttribute("attribute_\(k)", .string(String(repeating: "x", count: 40))) }
        try file.close()
        #expect(try HDF5File(path: path("root.h5")).attribute("attribute_11") == .string(String(repeating: "x", count: 40)))
        let address = try #require(ObjectHeader.rootAddress(path: path("root.h5")))
        guard case .messages = ObjectHeader.read(path: path("root.h5"), at: address) else { Issue.record("the good header does not read"); return }
        // A version-1 continuation message: type 0x0010, size 16, then the block's address (8 bytes) and length.
        let continuation: [UInt8] = [0x10, 0, 0x10, 0, 0, 0, 0, 0]
        let bad = try damaged(path("root.h5"), "continuation.h5", at: continuation, offset: 8) { bytes, at in
            for k in 0..<8 { bytes[at + k] = 0xFF }
        }
        expectError(naming: "continuation.h5", "outside the file") { _ = try HDF5File(path: bad) }
    }

    @Test("an attribute whose datatype or dataspace claims more bytes than its message holds (HDF5 1.10 reads past its buffer) is an error before HDF5 opens the file")
    func damagedAttribute() throws {
        let file = try HDF5File(path: path("attribute.h5"), mode: .truncate)
        try file.setAttribute("step", .int(7))
        try file.close()
        #expect(try HDF5File(path: path("attribute.h5")).attribute("step").intValue == 7)
        // A signed little-endian 64-bit integer's datatype: class and version, bit field, size 8, offset 0, precision 64.
        let integer: [UInt8] = [0x10, 0x08, 0, 0, 8, 0, 0, 0, 0, 0, 64, 0]
        let bad = try damaged(path("attribute.h5"), "widened.h5", at: integer, offset: 4) { bytes, at in bytes[at] = 200 }
        expectError(naming: "widened.h5", "an attribute claims 1 values of 200 bytes") { _ = try HDF5File(path: bad) }
        // Its dataspace's size (a version-1 scalar: 8 bytes) grown to 40, past the end of the message.
        let space = try damaged(path("attribute.h5"), "space.h5", at: Array("step".utf8) + [0], offset: -2) { bytes, at in bytes[at] = 40 }
        expectError(naming: "space.h5", "overrun its message") { _ = try HDF5File(path: space) }
    }

    @Test("a dataspace grown past its maximum and its storage (HDF5 1.10 reads past its buffer) is an error")
    func damagedLayout() throws {
        let file = try HDF5File(path: path("layout.h5"), mode: .truncate)
        try file.root.write("x", [Float](repeating: 2.5, count: 64), shape: [8, 8])
        try file.close()
        let reopened = try HDF5File(path: path("layout.h5"))
        let dataset = try reopened.root.dataset("x")
        #expect(try dataset.read(as: Float.self) == [Float](repeating: 2.5, count: 64))
        // Grow the dataspace's first extent: 8 → 200 rows over storage for 8.
        let sizes: [UInt8] = [8, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0]
        let grown = try damaged(path("layout.h5"), "grown.h5", at: sizes) { bytes, at in bytes[at] = 200 }
        expectError(naming: "grown.h5", "damaged") { _ = try HDF5File(path: grown).root.dataset("x").read(as: Float.self) }
    }

    /// `body` throws HDF5's error, naming `file` and saying `words`.
    func expectError(naming file: String, _ words: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
        let error = #expect(throws: HDF5Error.self, sourceLocation: sourceLocation) { try body() }
        #expect(error.map { $0.description.contains(file) && $0.description.contains(words) } == true, "\(String(describing: error))",
                sourceLocation: sourceLocation)
    }
}
