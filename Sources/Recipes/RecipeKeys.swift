// Key checking shared by recipes: an unknown key is an error that names the closest known key.

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

/// Levenshtein distance, for "did you mean" suggestions.
func editDistance(_ a: String, _ b: String) -> Int {
    let x = Array(a), y = Array(b)
    var previous = Array(0...y.count)
    for i in 1...Swift.max(1, x.count) where !x.isEmpty {
        var current = [i] + [Int](repeating: 0, count: y.count)
        for j in 1...Swift.max(1, y.count) where !y.isEmpty {
            current[j] = Swift.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return x.isEmpty ? y.count : previous[y.count]
}

/// The known key closest to `key`.
func closestKey(to key: String, in known: [String]) -> String? {
    known.min { editDistance(key, $0) < editDistance(key, $1) }
}

/// Throws for the first key of `keys` (sorted) that is not in `known`, naming the closest one.
func checkKeys(_ keys: [String], known: [String], file: String, section: String? = nil) throws {
    for key in keys.sorted() where !known.contains(key) {
        let place = section.map { "key '\($0).\(key)'" } ?? "key '\(key)'"
        let suggestion = closestKey(to: key, in: known).map { "; did you mean '\($0)'?" } ?? ""
        throw RecipeError(file: file, message: "unknown \(place)\(suggestion)")
    }
}
