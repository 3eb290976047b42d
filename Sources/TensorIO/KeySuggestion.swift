// "Did you mean …?" for configuration keys: the known key at the smallest edit distance.

public enum KeySuggestion {
    /// Levenshtein distance.
    public static func editDistance(_ a: String, _ b: String) -> Int {
        let x = Array(a), y = Array(b)
        guard !x.isEmpty else { return y.count }
        guard !y.isEmpty else { return x.count }
        var previous = Array(0...y.count)
        for i in 1...x.count {
            var current = [i] + [Int](repeating: 0, count: y.count)
            for j in 1...y.count {
                current[j] = Swift.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[y.count]
    }

    /// The known key closest to `key`.
    public static func closest(to key: String, in known: [String]) -> String? {
        known.min { editDistance(key, $0) < editDistance(key, $1) }
    }
}
