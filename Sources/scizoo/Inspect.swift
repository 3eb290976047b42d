// `scizoo inspect FILE`: the tree of an HDF5 file, readable (what `h5ls -r -v` tells).
import ArgumentParser
import Kernels
import TensorIO

struct Inspect: SciZooCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the groups, datasets (shape, dtype, chunks, filters) and attributes of an HDF5 file.")

    @Argument(help: "An HDF5 file (.h5, .hdf5, netCDF-4 .nc).")
    var file: String

    @Option(help: "Show at most this many elements of array attributes.")
    var maxValues: Int = 8

    func execute(budget: ThreadBudget) throws {
        let entries = try HDF5File(path: file, mode: .readOnly).tree()
        print("\(file)")
        for entry in entries {
            print(Self.render(entry, maxValues: maxValues))
            for attribute in entry.attributes {
                let indent = String(repeating: "  ", count: entry.depth + 1)
                let shape = attribute.shape.isEmpty ? "scalar" : "\(attribute.shape)"
                let value = attribute.value.map { Self.render($0, maxValues: maxValues) } ?? "(unreadable)"
                print("\(indent)@\(attribute.name): \(attribute.dtype) \(shape) = \(value)")
            }
        }
    }

    static func render(_ entry: HDF5TreeEntry, maxValues: Int) -> String {
        let indent = String(repeating: "  ", count: entry.depth)
        let name = entry.path == "/" ? "/" : String(entry.path.split(separator: "/").last ?? "")
        switch entry.details {
        case .group:
            return "\(indent)\(name == "/" ? "/" : name + "/")  group"
        case .other(let kind):
            return "\(indent)\(name)  \(kind.rawValue)"
        case .dataset(let shape, let maxShape, let dtype, let chunks, let filters):
            var text = "\(indent)\(name)  dataset \(dtype) \(shape.isEmpty ? "scalar" : "\(shape)")"
            if maxShape.map({ $0 ?? -1 }) != shape {
                text += " max [" + maxShape.map { $0.map(String.init) ?? "unlimited" }.joined(separator: ", ") + "]"
            }
            text += chunks.map { " chunks \($0)" } ?? " contiguous"
            if !filters.isEmpty { text += " filters " + filters.map(\.description).joined(separator: ", ") }
            return text
        }
    }

    static func render(_ value: HDF5AttributeValue, maxValues: Int) -> String {
        func clip<T>(_ values: [T]) -> String {
            let shown = values.prefix(maxValues).map { "\($0)" }.joined(separator: ", ")
            return "[" + shown + (values.count > maxValues ? ", … (\(values.count) values)" : "") + "]"
        }
        switch value {
        case .ints(let values): return clip(values)
        case .floats(let values): return clip(values)
        case .doubles(let values): return clip(values)
        case .strings(let values): return clip(values.map { "\"\($0)\"" })
        default: return value.description
        }
    }
}
