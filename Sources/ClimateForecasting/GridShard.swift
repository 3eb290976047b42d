// One shard of a forecast split. Its grid's coordinates, times and statistics are always in memory;
// its fields are either held whole (splits that fit the dataset's memory limit) or read frame by
// frame from the open file when a sample asks for them (a 0.25° year is 4 MB a variable a frame, and
// the split can be larger than RAM). Constants stay resident; recent frames are kept up to a byte
// budget, so a frame read as a target and then as the next sample's input is read once.
import Foundation
import TensorIO

public final class GridShard: @unchecked Sendable {
    /// The grid without fields when streamed (`frames`, `hours`, `mean`, … are always set).
    public let grid: ClimateGrid
    /// Held whole: every field read and checked when the shard was opened.
    public let isResident: Bool
    private let file: HDF5File?
    private let stored: [String: GridReader.StoredField]
    private let lock = NSLock()
    private var constants: [String: [Float]] = [:]
    private var recent: [Key: [Float]] = [:], order: [Key] = []
    private let recentLimit: Int
    /// Rows served: all, or the first ones (a 721-row ERA5 grid without its last, south-pole row,
    /// as FourCastNet reads it, so a patch size divides the rows).
    public private(set) var rowLimit: Int?

    private struct Key: Hashable {
        var name: String, time: Int
    }

    /// Opens `path` for `variables`: reads and checks every field now when `resident`, else keeps
    /// the file open and reads frames as they are asked for.
    /// - Parameter recentBytes: frames kept after a streamed read (default 64 MiB).
    public static func open(path: String, variables: [String]?, resident: Bool = false, recentBytes: Int = 64 << 20) throws -> GridShard {
        let file = try GridReader.open(path)
        let shard: GridShard
        do {
            let (grid, stored) = try GridReader.plan(file, variables: variables)
            shard = GridShard(grid: grid, file: file, stored: stored, recentBytes: recentBytes)
        } catch {
            try? file.close()
            throw error
        }
        return resident ? try shard.readWhole() : shard
    }

    /// Bytes the fields would hold read whole (`[T, H, W]` floats; constants once), from a streamed shard's file
    /// metadata: what the dataset weighs before it decides to read its shards whole.
    public var fieldBytes: Int {
        stored.values.reduce(0) { $0 + ($1.constant ? 1 : grid.frames) * grid.height * grid.width * MemoryLayout<Float>.size }
    }

    /// This shard held whole: every field read and checked (the streamed shard's file closes when it is released).
    public func readWhole() throws -> GridShard {
        guard let file else { return self }
        let whole = GridShard(try GridReader.readWhole(file, grid: grid, stored: stored))
        whole.rowLimit = rowLimit
        return whole
    }

    /// From now on serves the first `rows` rows only (coordinates, climatology and frames).
    public func keepRows(_ rows: Int) {
        precondition(rows >= 1 && rows <= grid.height, "GridShard: cannot keep \(rows) of \(grid.height) rows")
        rowLimit = rows == grid.height ? nil : rows
    }

    /// A grid already in memory.
    public init(_ grid: ClimateGrid) {
        (self.grid, self.isResident, self.file, self.stored, self.recentLimit) = (grid, true, nil, [:], 0)
    }

    private init(grid: ClimateGrid, file: HDF5File, stored: [String: GridReader.StoredField], recentBytes: Int) {
        (self.grid, self.isResident, self.file, self.stored, self.recentLimit) = (grid, false, file, stored, recentBytes)
    }

    deinit { try? file?.close() }

    public var source: String { grid.source }
    public var variables: [String] { grid.variables }
    public var frames: Int { grid.frames }
    public var hours: [Double] { grid.hours }
    public var hoursPerStep: Double? { grid.hoursPerStep }
    public var mean: [String: Double] { grid.mean }
    public var std: [String: Double] { grid.std }
    public var climatology: [String: [Float]] {
        guard let rowLimit else { return grid.climatology }
        return grid.climatology.mapValues { Array($0.prefix(rowLimit * grid.width)) }
    }
    public var latitudes: [Double] { rowLimit.map { Array(grid.latitudes.prefix($0)) } ?? grid.latitudes }
    public var longitudes: [Double] { grid.longitudes }
    public var height: Int { rowLimit ?? grid.height }
    public var width: Int { grid.width }

    /// Whether `name` is one frame served at every time (a land mask, orography).
    public func isConstant(_ name: String) -> Bool {
        isResident ? grid.fields[name]!.count == grid.height * grid.width : stored[name]!.constant
    }

    /// Variable `name`'s frame `t`, `[H, W]` (a constant's only frame for every t). A streamed read's
    /// NaN or infinity is an error naming the file, the variable and the index.
    public func frame(_ name: String, _ t: Int) throws -> ArraySlice<Float> {
        let whole = try wholeFrame(name, t)
        return rowLimit.map { whole.prefix($0 * grid.width) } ?? whole
    }

    private func wholeFrame(_ name: String, _ t: Int) throws -> ArraySlice<Float> {
        if isResident { return grid.frame(name, t) }
        guard let field = stored[name] else { preconditionFailure("variable '\(name)' was not opened") }
        lock.lock()
        defer { lock.unlock() }
        if field.constant {
            if let values = constants[name] { return values[...] }
            let values = try field.read(file!, frames: 0..<1, grid: grid, name: name)
            constants[name] = values
            return values[...]
        }
        let key = Key(name: name, time: t)
        if let values = recent[key] { return values[...] }
        let values = try field.read(file!, frames: t..<(t + 1), grid: grid, name: name)
        let frameBytes = values.count * MemoryLayout<Float>.size
        if frameBytes <= recentLimit {
            while !order.isEmpty && (order.count + 1) * frameBytes > recentLimit { recent[order.removeFirst()] = nil }
            recent[key] = values
            order.append(key)
        }
        return values[...]
    }
}
