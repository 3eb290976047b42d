// Key checking shared by recipes: an unknown key is an error that names the closest known key.
import ParallelRuntime

/// A recipe problem, naming the file and the key.
public struct RecipeError: Error, CustomStringConvertible {
    public let file: String
    public let message: String
    public var description: String { "\(file): \(message)" }

    public init(file: String, message: String) {
        self.file = file
        self.message = message
    }
}

/// The known key closest to `key` (edit distance).
func closestKey(to key: String, in known: [String]) -> String? { KeySuggestion.closest(to: key, in: known) }

/// Throws for the first key of `keys` (sorted) that is not in `known`, naming the closest one.
func checkKeys(_ keys: [String], known: [String], file: String, section: String? = nil) throws {
    for key in keys.sorted() where !known.contains(key) {
        let place = section.map { "key '\($0).\(key)'" } ?? "key '\(key)'"
        let suggestion = closestKey(to: key, in: known).map { "; did you mean '\($0)'?" } ?? ""
        throw RecipeError(file: file, message: "unknown \(place)\(suggestion)")
    }
}
