// The one error type for a problem in a file a user gave: the file, where in it (line, key, dataset
// or variable) and what was expected. Every reader (recipes, HDF5 grids, FASTA, alignments,
// tokenizers, weights, checkpoints) throws it, so every command reports one line the same way.

public struct FileError: Error, CustomStringConvertible, Equatable, Sendable {
    public let file: String
    /// 1-based line (nil or 0: the file as a whole).
    public let line: Int?
    /// What in the file, as it reads in the message: "key 'trainer.max_steps'", "variable 'z_500'".
    public var key: String?
    public let message: String

    public init(file: String, line: Int? = nil, key: String? = nil, message: String) {
        self.file = file
        self.line = line
        self.key = key
        self.message = message
    }

    public var description: String {
        (file + (line.flatMap { $0 > 0 ? ":\($0)" : nil } ?? "") + ": " + (key.map { "\($0): " } ?? "") + message).escapingControlCharacters
    }
}

extension String {
    /// The text with line breaks and other control characters written as escapes (`\r`, `\u{1B}`):
    /// an error that quotes a damaged file's bytes stays one line.
    public var escapingControlCharacters: String {
        guard unicodeScalars.contains(where: Self.isControl) else { return self }
        var result = ""
        for scalar in unicodeScalars {
            switch scalar {
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case _ where Self.isControl(scalar): result += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar != "\t" && (scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029)
    }
}
