// Whole-file reads that see through gzip: zlib's gzread passes plain files through unchanged, so a
// reader takes `x.sdf` and `x.sdf.gz` alike.
import CZlib

public enum CompressedText {
    /// The file's bytes, gunzipped when it is gzip-compressed; errors name the file.
    public static func read(_ path: String) throws -> [UInt8] {
        guard let handle = gzopen(path, "rb") else {
            throw FileError(file: path, message: "cannot open the file (missing or unreadable)")
        }
        defer { gzclose(handle) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = gzread(handle, &chunk, UInt32(chunk.count))
            if count < 0 { throw FileError(file: path, message: "is damaged: gzip stream error after \(bytes.count) bytes") }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<Int(count)])
        }
        return bytes
    }
}
