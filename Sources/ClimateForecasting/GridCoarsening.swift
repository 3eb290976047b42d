// ClimaX's downscaling task (paper §4.3; upstream keeps it off main, ClimaX issue #13): the model
// sees a coarse grid's fields interpolated to the fine grid and predicts the fine fields at the
// same time. The coarse grid is made from the fine one, as WeatherBench made its lower
// resolutions from ERA5: area-weighted means of factor × factor blocks, then bilinear
// interpolation back (periodic in longitude, held constant beyond the outermost coarse rows).
// The interpolated field is also the baseline a downscaling model must beat.
import Foundation
import TensorIO

public struct GridCoarsening: Sendable {
    public let factor: Int
    /// The fine grid's rows and columns, and the coarse grid's (block means of the fine coordinates).
    public let latitudes: [Double], longitudes: [Double]
    public let coarseLatitudes: [Double], coarseLongitudes: [Double]
    /// cos(latitude) of each fine row: the area weight within a block.
    private let rowWeights: [Double]
    /// Per fine row / column: the two coarse neighbours and the second one's weight.
    private let rowStencil: [(Int, Int, Double)], columnStencil: [(Int, Int, Double)]

    /// - Throws: when the grid does not split into whole `factor` × `factor` blocks.
    public init(factor: Int, latitudes: [Double], longitudes: [Double], source: String) throws {
        guard factor >= 2 else { throw FileError(file: source, message: "coarsening needs a factor of 2 or more, not \(factor)") }
        guard latitudes.count % factor == 0, longitudes.count % factor == 0, latitudes.count >= factor else {
            throw FileError(file: source, message: "a \(latitudes.count)×\(longitudes.count) grid does not split into \(factor)×\(factor) blocks")
        }
        (self.factor, self.latitudes, self.longitudes) = (factor, latitudes, longitudes)
        rowWeights = latitudes.map { cos($0 * .pi / 180) }
        coarseLatitudes = stride(from: 0, to: latitudes.count, by: factor).map { latitudes[$0..<($0 + factor)].reduce(0, +) / Double(factor) }
        coarseLongitudes = stride(from: 0, to: longitudes.count, by: factor).map { longitudes[$0..<($0 + factor)].reduce(0, +) / Double(factor) }
        // Rows: linear between the coarse rows around each fine row (in either latitude order), constant outside.
        let coarseRows = coarseLatitudes
        rowStencil = latitudes.map { lat in
            let ascending = coarseRows.last! >= coarseRows.first!
            let position = coarseRows.firstIndex { ascending ? $0 >= lat : $0 <= lat } ?? coarseRows.count
            if position == 0 { return (0, 0, 0) }
            if position == coarseRows.count { return (coarseRows.count - 1, coarseRows.count - 1, 0) }
            let (a, b) = (coarseRows[position - 1], coarseRows[position])
            return (position - 1, position, (lat - a) / (b - a))
        }
        // Columns: the grid is regular and periodic, so the coarse spacing is factor × the fine spacing.
        let spacing = 360 / Double(coarseLongitudes.count), first = coarseLongitudes[0], count = coarseLongitudes.count
        columnStencil = longitudes.map { lon in
            let offset = ((lon - first).truncatingRemainder(dividingBy: 360) + 360).truncatingRemainder(dividingBy: 360) / spacing
            let left = Int(offset.rounded(.down)) % count
            return (left, (left + 1) % count, offset - offset.rounded(.down))
        }
    }

    public var height: Int { latitudes.count }
    public var width: Int { longitudes.count }

    /// `[H/f, W/f]` block means of a `[H, W]` field, each fine cell weighted by cos(latitude).
    public func coarsen<Field: Collection<Float>>(_ field: Field) -> [Float] where Field.Index == Int {
        let (rows, columns) = (height / factor, width / factor)
        var out = [Float](repeating: 0, count: rows * columns)
        for r in 0..<rows {
            for c in 0..<columns {
                var sum = 0.0, weights = 0.0
                for i in (r * factor)..<((r + 1) * factor) {
                    let base = field.startIndex + i * width
                    for j in (c * factor)..<((c + 1) * factor) { sum += rowWeights[i] * Double(field[base + j]) }
                    weights += rowWeights[i] * Double(factor)
                }
                out[r * columns + c] = Float(sum / weights)
            }
        }
        return out
    }

    /// A `[H/f, W/f]` coarse field bilinearly interpolated to the fine `[H, W]` grid.
    public func interpolate(_ coarse: [Float]) -> [Float] {
        let columns = width / factor
        var out = [Float](repeating: 0, count: height * width)
        for (i, (r0, r1, wr)) in rowStencil.enumerated() {
            for (j, (c0, c1, wc)) in columnStencil.enumerated() {
                let top = (1 - wc) * Double(coarse[r0 * columns + c0]) + wc * Double(coarse[r0 * columns + c1])
                let bottom = (1 - wc) * Double(coarse[r1 * columns + c0]) + wc * Double(coarse[r1 * columns + c1])
                out[i * width + j] = Float((1 - wr) * top + wr * bottom)
            }
        }
        return out
    }

    /// What a downscaling model is given: the field coarsened, then interpolated back.
    public func seenCoarse<Field: Collection<Float>>(_ field: Field) -> [Float] where Field.Index == Int { interpolate(coarsen(field)) }
}
