// metrics.jsonl: one JSON object per line, the file every training run and evaluation writes.
import Foundation
import TensorIO

/// A run's metrics.jsonl, shared by the training recipes: one JSON object per line, written by one
/// rank. A fresh run starts the file; a resumed one keeps it and drops entries of steps after the
/// resume point (written before a kill, redone after the resume).
final class MetricsFile {
    private let handle: FileHandle?
    let path: String

    /// - Parameters:
    ///   - keepingBytes: the file's length when the checkpoint resumed from was saved (its run state):
    ///     what was appended after that is dropped. Without it (older checkpoints), entries of steps
    ///     after `step` are.
    ///   - writes: false on ranks that do not write (every call is then a no-op).
    init(path: String, resumingAfter step: Int, keepingBytes: UInt64? = nil, writes: Bool) throws {
        self.path = path
        guard writes else { handle = nil; return }
        handle = try Self.opening(path) {
            if step > 0 {
                if let keepingBytes { try Self.truncate(path, toBytes: keepingBytes) } else { try Self.truncate(path, after: step) }
            }
            return try Self.appendHandle(path, fresh: step == 0)
        }
    }

    /// Where the next entry goes: the file's length (0 on ranks that do not write).
    var length: UInt64 { (try? handle?.offset()) ?? 0 }

    static func truncate(_ path: String, toBytes length: UInt64) throws {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              let size = (attributes[.size] as? NSNumber)?.uint64Value, size > length else { return }
        guard Glibc.truncate(path, off_t(length)) == 0 else {
            throw FileError(file: path, message: "cannot cut the metrics file back to the checkpoint's \(length) bytes: \(String(cString: strerror(errno)))")
        }
    }

    /// Appends to an existing file (entries made after a run, such as its test scores).
    init(appendingTo path: String, writes: Bool) throws {
        self.path = path
        guard writes else { handle = nil; return }
        handle = try Self.opening(path) { try Self.appendHandle(path, fresh: false) }
    }

    /// A handle at the end of `path`, made empty first when `fresh` or missing.
    private static func appendHandle(_ path: String, fresh: Bool) throws -> FileHandle {
        if fresh || !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw FileError(file: path, message: "cannot create the metrics file: \(String(cString: strerror(errno)))")
            }
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        return handle
    }

    /// `body`'s failures as one line naming the file and the system's reason (a read-only or full
    /// file system), instead of Foundation's error dump.
    private static func opening<T>(_ path: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as FileError { throw error } catch {
            throw FileError(file: path, message: "cannot write the metrics file: \(systemReason(error))")
        }
    }

    deinit { try? handle?.close() }

    /// Writes `fields` as one line; a NaN or infinite number becomes null (JSON has no such numbers,
    /// and JSONSerialization would refuse the whole line). A failed write (a full disk) throws,
    /// naming the file, instead of trapping as `FileHandle.write(_:)` does.
    func record(_ fields: [String: Any]) throws {
        let strict = fields.mapValues { value -> Any in
            if let number = value as? Double, !number.isFinite { return NSNull() }
            return value
        }
        guard let handle, let data = try? JSONSerialization.data(withJSONObject: strict, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        do {
            try handle.write(contentsOf: data + Data("\n".utf8))
        } catch {
            throw FileError(file: path, message: "cannot append to the metrics file: \(systemReason(error))")
        }
    }

    static func truncate(_ path: String, after step: Int) throws {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return }
        // A line that is not JSON was torn by a kill or a full disk mid-write: dropped with the
        // entries after the resume point.
        let kept = text.split(separator: "\n").filter { line in
            guard let data = line.data(using: .utf8), let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return false }
            guard let lineStep = (object["step"] as? NSNumber)?.doubleValue else { return true }
            return lineStep <= Double(step)
        }
        try (kept.joined(separator: "\n") + (kept.isEmpty ? "" : "\n")).write(toFile: path, atomically: true, encoding: .utf8)
    }
}

/// The operating system's words for a failed file operation ("No space left on device"), without
/// Foundation's wrapping of them.
func systemReason(_ error: Error) -> String {
    var current = error as NSError
    while let underlying = current.userInfo[NSUnderlyingErrorKey] as? Error { current = underlying as NSError }
    if current.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(current.code))) }
    return current.localizedDescription
}
