// The one reader behind every recipe and config file SciZoo takes (GenSLM's and ClimaX's YAML,
// DeepSpeed's JSON): strict and typed. A key nobody asks for is an error naming the file, its line
// and the closest known key; a value of the wrong type is an error naming the type expected. JSON
// is read as YAML (a JSON document is YAML 1.2), so both formats report lines.
//
// Plain (unquoted) scalars are typed as YAML 1.2 and JSON type them, so `1e-3` is a number (YAML 1.1
// resolvers, PyYAML's among them, leave it a string); a quoted value is always a string. An integer
// is accepted where a number is asked for, and an integral number (5e8) where an integer is.
import Foundation
import Yams

/// One value of a recipe and the line it was written on (1-based; 0 when unknown).
public struct RecipeNode: Sendable, CustomStringConvertible {
    public indirect enum Value: Sendable {
        case null, bool(Bool), int(Int), double(Double), string(String)
        case list([RecipeNode])
        /// Entries in file order, with the line of each key.
        case mapping([(key: String, line: Int, node: RecipeNode)])
    }

    public let value: Value
    public let line: Int

    init(_ node: Node) throws {
        line = node.mark?.line ?? 0
        switch node {
        case .scalar(let scalar):
            if scalar.style != .plain {
                value = .string(scalar.string)  // quoted: always a string
            } else if node.null != nil {
                value = .null
            } else if let flag = node.bool {
                value = .bool(flag)
            } else if let number = node.int {
                value = .int(number)
            } else if let number = node.float ?? Self.number(scalar.string) {
                value = .double(number)
            } else {
                value = .string(scalar.string)
            }
        case .sequence(let sequence): value = .list(try sequence.map(RecipeNode.init))
        case .mapping(let mapping):
            value = .mapping(try mapping.map { pair in
                guard case .scalar(let key) = pair.key else {
                    throw RecipeNodeError(line: pair.key.mark?.line ?? 0, message: "a mapping key must be a plain name")
                }
                return (key.string, key.mark?.line ?? 0, try RecipeNode(pair.value))
            })
        case .alias: throw RecipeNodeError(line: node.mark?.line ?? 0, message: "YAML aliases are not supported in recipes")
        }
    }

    /// YAML 1.2 / JSON numbers that a YAML 1.1 resolver leaves as strings (1e-3, 5E+8).
    static func number(_ text: String) -> Double? {
        guard text.range(of: #"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$"#, options: .regularExpression) != nil else { return nil }
        return Double(text)
    }

    /// The value as written, for error messages.
    public var description: String {
        switch value {
        case .null: "null"
        case .bool(let v): "\(v)"
        case .int(let v): "\(v)"
        case .double(let v): "\(v)"
        case .string(let v): "'\(v)'"
        case .list(let items): "[" + items.map(\.description).joined(separator: ", ") + "]"
        case .mapping(let entries): "{" + entries.map { "\($0.key): \($0.node)" }.joined(separator: ", ") + "}"
        }
    }

    /// Plain values (Bool, Int, Double, String, arrays, dictionaries, NSNull) for JSON records.
    public var plain: Any {
        switch value {
        case .null: NSNull()
        case .bool(let v): v
        case .int(let v): v
        case .double(let v): v
        case .string(let v): v
        case .list(let items): items.map(\.plain)
        case .mapping(let entries): Dictionary(entries.map { ($0.key, $0.node.plain) }) { first, _ in first }
        }
    }
}

struct RecipeNodeError: Error {
    let line: Int
    let message: String
}

/// One mapping of a recipe, read key by key; `finish()` rejects the keys nobody asked for.
public struct RecipeSection {
    public let file: String
    /// Dotted path of this mapping from the root ("" at the root).
    public let path: String
    public let line: Int
    private let entries: [(key: String, line: Int, node: RecipeNode)]
    public private(set) var asked: [String] = []

    /// The root mapping of a YAML or JSON file.
    public static func load(_ path: String, expecting what: String = "a mapping of settings (key: value)") throws -> RecipeSection {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw FileError(file: path, message: "cannot read the file (\(error.localizedDescription))")
        }
        return try parse(text, file: path, expecting: what)
    }

    /// The root mapping of YAML or JSON `text` read from `file`.
    public static func parse(_ text: String, file: String, expecting what: String = "a mapping of settings (key: value)") throws -> RecipeSection {
        let root: RecipeNode
        do {
            guard let node = try Yams.compose(yaml: text) else { throw FileError(file: file, message: "is empty; expected \(what)") }
            root = try RecipeNode(node)
        } catch let error as RecipeNodeError {
            throw FileError(file: file, line: error.line, message: error.message)
        } catch let error as YamlError {
            throw FileError(file: file, line: Self.line(of: error), message: "not valid YAML or JSON: \(Self.summary(of: error))")
        }
        guard case .mapping(let entries) = root.value else {
            throw FileError(file: file, line: root.line, message: "expected \(what), got \(root)")
        }
        return try RecipeSection(file: file, path: "", line: root.line, entries: entries)
    }

    init(file: String, path: String, line: Int, entries: [(key: String, line: Int, node: RecipeNode)]) throws {
        (self.file, self.path, self.line, self.entries) = (file, path, line, entries)
        var seen: Set<String> = []
        for entry in entries where !seen.insert(entry.key).inserted {
            throw FileError(file: file, line: entry.line, key: "key '\(name(entry.key))'", message: "is given twice")
        }
    }

    /// Yams's message without the quoted source and caret lines that follow it: the problem, and
    /// the context (`while parsing a flow mapping in line 5, column 24`) where it has one.
    private static func summary(of error: YamlError) -> String {
        let lines = "\(error)".split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        guard var text = lines.first else { return "unreadable" }
        if text.contains("while "), lines.count > 1 { text += " " + lines[1] }
        return text.hasSuffix(":") ? String(text.dropLast()) : text
    }

    private static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): mark.line
        default: nil
        }
    }

    /// The dotted name of `key` in this section.
    public func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
    /// Keys written in this section, in file order.
    public var keys: [String] { entries.map(\.key) }
    public func contains(_ key: String) -> Bool { node(key) != nil }
    /// The line `key` was written on (the section's line when absent).
    public func line(of key: String) -> Int { entries.first { $0.key == key }?.line ?? line }
    private func node(_ key: String) -> RecipeNode? { entries.first { $0.key == key }?.node }

    /// The error for `key`'s value, naming the type or values expected.
    public func error(_ key: String, expected: String) -> FileError {
        let written = node(key).map(\.description) ?? "nothing"
        return FileError(file: file, line: line(of: key), key: "key '\(name(key))'", message: "must be \(expected), got \(written)")
    }
    /// A problem with `key`'s value that is not its type.
    public func problem(_ key: String, _ message: String) -> FileError {
        FileError(file: file, line: line(of: key), key: "key '\(name(key))'", message: message)
    }

    /// The node of `key` (nil when absent or null), marking the key as known.
    public mutating func value(_ key: String) -> RecipeNode? {
        asked.append(key)
        guard let node = node(key) else { return nil }
        if case .null = node.value { return nil }
        return node
    }

    /// Marks keys as known without reading them (keys accepted and documented as unused).
    public mutating func accept(_ keys: [String]) { asked += keys }

    public mutating func string(_ key: String) throws -> String? {
        guard let node = value(key) else { return nil }
        switch node.value {
        case .string(let v): return v
        default: throw error(key, expected: "a string")
        }
    }

    public mutating func string(_ key: String, oneOf allowed: [String]) throws -> String? {
        guard let text = try string(key) else { return nil }
        // Matched without regard to case, returned as the allowed spelling (callers switch on it).
        guard let match = allowed.first(where: { $0.lowercased() == text.lowercased() }) else {
            throw error(key, expected: "one of \(allowed.joined(separator: ", "))")
        }
        return match
    }

    public mutating func int(_ key: String, minimum: Int? = nil) throws -> Int? {
        guard let node = value(key) else { return nil }
        let number: Int
        switch node.value {
        case .int(let v): number = v
        case .double(let v) where v == v.rounded() && Swift.abs(v) < 9.2e18: number = Int(v)  // 5e8 is an element count
        default: throw error(key, expected: minimum.map { "an integer ≥ \($0)" } ?? "an integer")
        }
        if let minimum, number < minimum { throw error(key, expected: "an integer ≥ \(minimum)") }
        return number
    }

    public mutating func double(_ key: String) throws -> Double? {
        guard let node = value(key) else { return nil }
        switch node.value {
        case .int(let v): return Double(v)
        case .double(let v): return v
        default: throw error(key, expected: "a number")
        }
    }

    public mutating func bool(_ key: String) throws -> Bool? {
        guard let node = value(key) else { return nil }
        switch node.value {
        case .bool(let v): return v
        default: throw error(key, expected: "true or false")
        }
    }

    public mutating func strings(_ key: String) throws -> [String]? {
        try list(key, expected: "a list of strings") { if case .string(let v) = $0 { v } else { nil } }
    }

    public mutating func ints(_ key: String) throws -> [Int]? {
        try list(key, expected: "a list of integers") { if case .int(let v) = $0 { v } else { nil } }
    }

    /// The list under `key`, each element converted by `element` (nil: the wrong type).
    private mutating func list<T>(_ key: String, expected: String, _ element: (RecipeNode.Value) -> T?) throws -> [T]? {
        guard let node = value(key) else { return nil }
        guard case .list(let items) = node.value else { throw error(key, expected: expected) }
        return try items.map { item in
            guard let converted = element(item.value) else { throw error(key, expected: expected) }
            return converted
        }
    }

    /// The mapping under `key`, whose keys are checked when it is finished.
    public mutating func section(_ key: String) throws -> RecipeSection? {
        guard let node = value(key) else { return nil }
        guard case .mapping(let entries) = node.value else { throw error(key, expected: "a mapping") }
        return try RecipeSection(file: file, path: name(key), line: node.line, entries: entries)
    }

    /// The mappings of a list under `key` (LightningCLI's callbacks).
    public mutating func sections(_ key: String) throws -> [RecipeSection]? {
        guard let node = value(key) else { return nil }
        guard case .list(let items) = node.value else { throw error(key, expected: "a list of mappings") }
        return try items.enumerated().map { index, item in
            guard case .mapping(let entries) = item.value else { throw error(key, expected: "a list of mappings") }
            return try RecipeSection(file: file, path: "\(name(key))[\(index)]", line: item.line, entries: entries)
        }
    }

    /// Any key present but never asked for: an error naming its line and the closest known key.
    public func finish(alsoAllowed: [String] = []) throws {
        let allowed = asked + alsoAllowed
        for entry in entries where !allowed.contains(entry.key) {
            let suggestion = KeySuggestion.closest(to: entry.key, in: allowed).map { "; did you mean '\($0)'?" } ?? ""
            throw FileError(file: file, line: entry.line, message: "unknown key '\(name(entry.key))'\(suggestion)")
        }
    }

    /// The section's values as JSON text with sorted keys (the recipe a checkpoint records).
    public var json: String {
        let object = Dictionary(entries.map { ($0.key, $0.node.plain) }) { first, _ in first }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
