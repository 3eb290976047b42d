// A recursive description of a file: what `scizoo inspect` prints (cf. `h5ls -r -v`).

/// One object of a file, with what `h5ls -r -v` would tell about it.
public struct HDF5TreeEntry: Sendable {
    public struct Attribute: Sendable {
        public let name: String
        public let dtype: HDF5DataType
        public let shape: [Int]
        /// The value, or nil when SciZoo cannot read its type.
        public let value: HDF5AttributeValue?
    }

    public enum Details: Sendable {
        case group
        case dataset(shape: [Int], maxShape: [Int?], dtype: HDF5DataType, chunks: [Int]?, filters: [HDF5Filter])
        case other(HDF5MemberKind)
    }

    /// Absolute path, `/` for the root.
    public let path: String
    /// Nesting depth (the root is 0).
    public let depth: Int
    public let details: Details
    public let attributes: [Attribute]
}

extension HDF5File {
    /// Every object in the file, depth first, members in name order.
    public func tree() throws(HDF5Error) -> [HDF5TreeEntry] {
        var entries: [HDF5TreeEntry] = []
        let root = try self.root
        entries.append(HDF5TreeEntry(path: "/", depth: 0, details: .group, attributes: try Self.attributes(of: root)))
        try walk(root, depth: 1, into: &entries)
        return entries
    }

    private func walk(_ group: HDF5Group, depth: Int, into entries: inout [HDF5TreeEntry]) throws(HDF5Error) {
        for name in try group.memberNames() {
            let path = group.childPath(name)
            switch try group.kind(of: name) {
            case .group:
                let child = try group.group(name)
                entries.append(HDF5TreeEntry(path: path, depth: depth, details: .group,
                                             attributes: try Self.attributes(of: child)))
                try walk(child, depth: depth + 1, into: &entries)
            case .dataset:
                let dataset = try group.dataset(name)
                let details = HDF5TreeEntry.Details.dataset(
                    shape: try dataset.shape, maxShape: try dataset.maxShape, dtype: try dataset.dtype,
                    chunks: try dataset.chunks, filters: try dataset.filters)
                entries.append(HDF5TreeEntry(path: path, depth: depth, details: details,
                                             attributes: try Self.attributes(of: dataset)))
            case let kind:
                entries.append(HDF5TreeEntry(path: path, depth: depth, details: .other(kind), attributes: []))
            }
        }
    }

    private static func attributes(of object: HDF5Object) throws(HDF5Error) -> [HDF5TreeEntry.Attribute] {
        var result: [HDF5TreeEntry.Attribute] = []
        for name in try object.attributeNames() {
            let layout = try object.attributeLayout(name)
            let value = try? object.attribute(name)
            result.append(.init(name: name, dtype: layout.dtype, shape: layout.shape, value: value))
        }
        return result
    }
}
