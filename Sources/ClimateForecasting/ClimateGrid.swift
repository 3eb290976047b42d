// Gridded fields in memory, and the ClimaX HDF5 layout on disk: one dataset per variable
// `[T, 1, H, W]` (or `[T, H, W]`; T = 1 for constants), `lat`, `lon`, `time` (hours), and
// groups `/stats/mean`, `/stats/std` (one value per variable) and `/climatology` (`[1, H, W]`).
import Foundation
import TensorIO

/// Frames of several variables on one latitude-longitude grid.
public struct ClimateGrid: Sendable {
    /// Long variable names, in the order they were read.
    public var variables: [String]
    /// `[T, H, W]` per variable, or `[1, H, W]` for a constant field.
    public var fields: [String: [Float]]
    public var frames: Int
    /// Row latitudes and column longitudes in degrees, in the file's order.
    public var latitudes: [Double]
    public var longitudes: [Double]
    /// Time of each frame in hours.
    public var hours: [Double]
    /// Normalisation statistics of the training split (empty when the file has none).
    public var mean: [String: Double] = [:]
    public var std: [String: Double] = [:]
    /// Time mean of this split per variable, `[H, W]`.
    public var climatology: [String: [Float]] = [:]
    /// Where the grid came from (for messages).
    public var source: String
    /// Extra root attributes written with the grid (e.g. a forecast's lead time).
    public var attributes: [String: String] = [:]

    public init(variables: [String], fields: [String: [Float]], frames: Int, latitudes: [Double], longitudes: [Double],
                hours: [Double], source: String) {
        self.variables = variables
        self.fields = fields
        self.frames = frames
        self.latitudes = latitudes
        self.longitudes = longitudes
        self.hours = hours
        self.source = source
    }

    public var height: Int { latitudes.count }
    public var width: Int { longitudes.count }

    /// Variable `name`'s frame `t`, `[H, W]` (a constant's only frame for every t).
    public func frame(_ name: String, _ t: Int) -> ArraySlice<Float> {
        let field = fields[name]!
        let size = height * width
        let index = field.count == size ? 0 : t
        return field[(index * size)..<((index + 1) * size)]
    }

    /// Hours between consecutive frames (nil with fewer than two frames or uneven spacing).
    public var hoursPerStep: Double? {
        guard hours.count > 1 else { return nil }
        let step = hours[1] - hours[0]
        for i in 1..<hours.count where abs(hours[i] - hours[i - 1] - step) > 1e-6 { return nil }
        return step
    }

    /// Writes the grid in the ClimaX HDF5 layout, atomically (temporary name, then rename).
    public func write(to path: String, compress: Bool = true) throws {
        let h = height, w = width
        try HDF5File.writeAtomically(to: path) { file in
            let root = try file.root
            try root.setAttribute("layout", .string("climax"))
            for (key, value) in attributes.sorted(by: { $0.key < $1.key }) { try root.setAttribute(key, .string(value)) }
            try root.write("lat", latitudes, shape: [h])
            try root.write("lon", longitudes, shape: [w])
            try root.write("time", hours, shape: [hours.count])
            for name in variables {
                let field = fields[name]!
                let t = field.count / (h * w)
                let options: HDF5DatasetOptions = compress ? .compressed(level: 1, shuffle: true, chunks: [1, 1, h, w]) : .contiguous
                try root.write(name, field, shape: [t, 1, h, w], options: options)
            }
            if !mean.isEmpty {
                let stats = try root.groupCreatingIfNeeded("stats")
                let means = try stats.groupCreatingIfNeeded("mean"), stds = try stats.groupCreatingIfNeeded("std")
                for name in variables {
                    if let value = mean[name] { try means.write(name, [value], shape: [1]) }
                    if let value = std[name] { try stds.write(name, [value], shape: [1]) }
                }
            }
            if !climatology.isEmpty {
                let group = try root.groupCreatingIfNeeded("climatology")
                for name in variables { if let field = climatology[name] { try group.write(name, field, shape: [1, h, w]) } }
            }
        }
    }
}
