// metrics.jsonl: one JSON object per line, the file every training run and evaluation writes.
import Foundation
import TensorIO

/// A run's metrics.jsonl, shared by the training recipes: one JSON object per line, written by one
/// rank. A fresh run starts the file; a resumed one keeps it and drops entries of steps after the
/// resume point (written before a kill, redone after the resume).
final class MetricsFile {
    private let handle: FileHandle?

    /// - Parameter writes: false on ranks that do not write (every call is then a no-op).
    init(path: String, resumingAfter step: Int, writes: Bool) throws {
        guard writes else { handle = nil; return }
        if step > 0 { try Self.truncate(path, after: step) }
        if step == 0 || !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw FileError(file: path, message: "cannot create the metrics file")
            }
        }
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle?.seekToEnd()
    }

    /// Appends to an existing file (entries made after a run, such as its test scores).
    init(appendingTo path: String, writes: Bool) throws {
        guard writes else { handle = nil; return }
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw FileError(file: path, message: "cannot create the metrics file")
            }
        }
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle?.seekToEnd()
    }

    deinit { try? handle?.close() }

    /// Writes `fields` as one line; a NaN or infinite number becomes null (JSON has no such numbers,
    /// and JSONSerialization would refuse the whole line).
    func record(_ fields: [String: Any]) {
        let strict = fields.mapValues { value -> Any in
            if let number = value as? Double, !number.isFinite { return NSNull() }
            return value
        }
        if let handle, let data = try? JSONSerialization.data(withJSONObject: strict, options: [.sortedKeys, .withoutEscapingSlashes]) {
            handle.write(data + Data("\n".utf8))
        }
    }

    static func truncate(_ path: String, after step: Int) throws {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return }
        let kept = text.split(separator: "\n").filter { line in
            guard let data = line.data(using: .utf8), let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let lineStep = (object["step"] as? NSNumber)?.doubleValue else { return true }
            return lineStep <= Double(step)
        }
        try (kept.joined(separator: "\n") + (kept.isEmpty ? "" : "\n")).write(toFile: path, atomically: true, encoding: .utf8)
    }
}
