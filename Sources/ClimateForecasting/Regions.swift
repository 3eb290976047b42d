// Regional forecasting boxes (upstream regional_forecast BOUNDARIES) and the patches inside them.
import TensorIO

public enum ClimateRegions {
    /// Latitude and longitude bounds in degrees (inclusive), as upstream lists them.
    public static let boundaries: [String: (latitude: ClosedRange<Double>, longitude: ClosedRange<Double>)] = [
        "NorthAmerica": (15...65, 220...300),
        "SouthAmerica": (-55...20, 270...330),
        "Europe": (30...65, 0...40),
        "SouthAsia": (-15...45, 25...110),
        "EastAsia": (5...65, 70...150),
        "Australia": (-50...10, 100...180),
    ]

    /// The whole patches whose pixels all lie inside `region`, read against the grid's own
    /// latitude order. Upstream's get_region_info reverses `lat` first, which on its own
    /// south-to-north grids selects the mirror-image rows (North America's box lands in the
    /// southern hemisphere); here a row is in the box when its latitude is.
    public static func patches(region name: String, latitudes: [Double], longitudes: [Double], patchSize p: Int) throws -> PatchRegion {
        guard let box = boundaries[name] else {
            throw FileError(file: "data.region", message: "unknown region '\(name)'; known: \(boundaries.keys.sorted().joined(separator: ", ")), Global")
        }
        let rowsInside = latitudes.indices.filter { box.latitude.contains(latitudes[$0]) }
        let columnsInside = longitudes.indices.filter { box.longitude.contains(longitudes[$0]) }
        guard let top = rowsInside.first, let bottom = rowsInside.last, let left = columnsInside.first, let right = columnsInside.last else {
            throw FileError(file: "data.region", message: "region '\(name)' holds no grid cell")
        }
        let patchColumnsAll = longitudes.count / p
        var ids: [Int] = [], patchRows = Set<Int>(), patchColumns = Set<Int>()
        for row in stride(from: 0, to: latitudes.count - p + 1, by: p) {
            for column in stride(from: 0, to: longitudes.count - p + 1, by: p)
            where row >= top && row + p - 1 <= bottom && column >= left && column + p - 1 <= right {
                ids.append((row / p) * patchColumnsAll + column / p)
                patchRows.insert(row / p)
                patchColumns.insert(column / p)
            }
        }
        guard let firstRow = patchRows.min(), let firstColumn = patchColumns.min() else {
            throw FileError(file: "data.region", message: "region '\(name)' holds no whole \(p)×\(p) patch")
        }
        return PatchRegion(tokenIDs: ids, patchRows: patchRows.count, patchColumns: patchColumns.count,
                           rows: (firstRow * p)..<((firstRow + patchRows.count) * p),
                           columns: (firstColumn * p)..<((firstColumn + patchColumns.count) * p))
    }
}
