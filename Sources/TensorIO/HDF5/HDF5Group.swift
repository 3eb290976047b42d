// Groups: nested paths, members, and dataset creation.
import CHDF5

/// Common ground of groups and datasets: a handle, its file, and its path for error messages.
public class HDF5Object {
    public let file: HDF5File
    /// Absolute path inside the file, e.g. `/model/layers.0/weight`.
    public let path: String
    let id: hid_t
    private let closeFunction: (hid_t) -> herr_t

    init(file: HDF5File, path: String, id: hid_t, close: @escaping (hid_t) -> herr_t) {
        self.file = file
        self.path = path
        self.id = id
        self.closeFunction = close
    }

    deinit {
        let id = id, close = closeFunction
        _ = HDF5Library.quietly { close(id) }
    }

    @discardableResult
    func call<R: BinaryInteger>(_ operation: @autoclosure () -> String, object: String? = nil,
                                _ body: () -> R) throws(HDF5Error) -> R {
        try HDF5Library.call(operation(), file: file.path, object: object ?? path, body)
    }

    func error(_ kind: HDF5Error.Kind, _ operation: String, object: String? = nil, _ messages: String...) -> HDF5Error {
        HDF5Error(kind, file: file.path, object: object ?? path, operation: operation, messages: messages)
    }

    func childPath(_ name: String) -> String {
        if name.hasPrefix("/") { return name }
        return path == "/" ? "/" + name : path + "/" + name
    }
}

/// What a group member is.
public enum HDF5MemberKind: String, Sendable {
    case group, dataset, namedDatatype = "named datatype", danglingLink = "dangling link"
}

/// A group inside an HDF5 file (the root group is `/`).
public final class HDF5Group: HDF5Object {
    init(file: HDF5File, path: String) throws(HDF5Error) {
        let id = try HDF5Library.call("open group", file: file.path, object: path) {
            H5Gopen2(file.id, path, defaultProperties)
        }
        super.init(file: file, path: path, id: id, close: { H5Gclose($0) })
    }

    private init(file: HDF5File, path: String, id: hid_t) {
        super.init(file: file, path: path, id: id, close: { H5Gclose($0) })
    }

    /// Whether `name` (a relative or absolute path, nested allowed) exists.
    public func contains(_ name: String) -> Bool {
        // H5Lexists fails on a missing intermediate group; check each prefix in turn.
        let parts = name.split(separator: "/")
        var prefix = name.hasPrefix("/") ? "/" : ""
        for part in parts {
            prefix += (prefix.isEmpty || prefix.hasSuffix("/") ? "" : "/") + part
            let exists = HDF5Library.quietly { H5Lexists(id, prefix, defaultProperties) }
            if exists <= 0 { return false }
        }
        return true
    }

    /// Creates a group; intermediate groups in a nested path are created as needed.
    @discardableResult
    public func createGroup(_ name: String) throws(HDF5Error) -> HDF5Group {
        let target = childPath(name)
        let linkProperties = try call("create group", object: target) { H5Pcreate(scizoo_H5P_LINK_CREATE()) }
        defer { _ = HDF5Library.quietly { H5Pclose(linkProperties) } }
        try call("create group", object: target) { H5Pset_create_intermediate_group(linkProperties, 1) }
        let group = try call("create group", object: target) {
            H5Gcreate2(id, name, linkProperties, defaultProperties, defaultProperties)
        }
        return HDF5Group(file: file, path: target, id: group)
    }

    /// Opens an existing group.
    public func group(_ name: String) throws(HDF5Error) -> HDF5Group {
        let target = childPath(name)
        guard contains(name) else { throw error(.objectNotFound, "open group", object: target) }
        try checkObjectHeaders(along: name, operation: "open group")
        let group = try call("open group", object: target) { H5Gopen2(id, name, defaultProperties) }
        return HDF5Group(file: file, path: target, id: group)
    }

    /// Opens the group, creating it (and its parents) if missing.
    public func groupCreatingIfNeeded(_ name: String) throws(HDF5Error) -> HDF5Group {
        contains(name) ? try group(name) : try createGroup(name)
    }

    /// Opens an existing dataset.
    public func dataset(_ name: String) throws(HDF5Error) -> HDF5Dataset {
        let target = childPath(name)
        guard contains(name) else { throw error(.objectNotFound, "open dataset", object: target) }
        try checkObjectHeaders(along: name, operation: "open dataset")
        let dataset = try call("open dataset", object: target) { H5Dopen2(id, name, defaultProperties) }
        return HDF5Dataset(file: file, path: target, id: dataset)
    }

    /// Names of the direct members, in HDF5's name order (sorted, as h5py lists them).
    public func memberNames() throws(HDF5Error) -> [String] {
        var info = H5G_info_t()
        try call("list members") { H5Gget_info(id, &info) }
        var names: [String] = []
        for index in 0..<info.nlinks {
            let length = try call("list members") {
                H5Lget_name_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, index, nil, 0, defaultProperties)
            }
            var buffer = [CChar](repeating: 0, count: Int(length) + 1)
            try call("list members") {
                H5Lget_name_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, index, &buffer, buffer.count, defaultProperties)
            }
            names.append(String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return names
    }

    /// What kind of object `name` is.
    public func kind(of name: String) throws(HDF5Error) -> HDF5MemberKind {
        let target = childPath(name)
        if contains(name) { try checkObjectHeaders(along: name, operation: "open object") }
        let object = HDF5Library.quietly { H5Oopen(id, name, defaultProperties) }
        guard object >= 0 else {
            if contains(name) { return .danglingLink }
            throw error(.objectNotFound, "open object", object: target)
        }
        defer { _ = HDF5Library.quietly { H5Oclose(object) } }
        switch H5Iget_type(object) {
        case H5I_GROUP: return .group
        case H5I_DATASET: return .dataset
        case H5I_DATATYPE: return .namedDatatype
        default: throw error(.typeMismatch, "identify object", object: target, "unknown object type")
        }
    }

    /// Deletes the link `name` (the space is reclaimed only by repacking, as in HDF5 itself).
    public func remove(_ name: String) throws(HDF5Error) {
        try call("delete", object: childPath(name)) { H5Ldelete(id, name, defaultProperties) }
    }
}
