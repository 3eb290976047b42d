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
        file + (line.flatMap { $0 > 0 ? ":\($0)" : nil } ?? "") + ": " + (key.map { "\($0): " } ?? "") + message
    }
}
